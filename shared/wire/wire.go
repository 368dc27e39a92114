// Package wire holds the JSON field types that keep the upstream wire format: ids that
// arrive as numbers or decimal strings, ids that leave as strings, and timestamps in
// chrono's RFC 3339 form.
package wire

import "bytes"
import "encoding/json"
import "errors"
import "fmt"
import "reflect"
import "strconv"
import "strings"
import "time"

// ID is a 64-bit id that decodes from a JSON number or a decimal string (inputs are
// lenient: docs/decisions.md, "Compatibility") and encodes as a JSON number. It never passes through float64.
type ID int64

// UnmarshalJSON accepts 123 and "123". A float, an array, an object or a non-decimal
// string is an error (typeError: the decoder names the field).
func (id *ID) UnmarshalJSON(b []byte) error {
	v, err := ParseIDJSON(b)
	if err != nil {
		return typeError(b, reflect.TypeFor[ID]())
	}
	*id = ID(v)
	return nil
}

// ParseIDJSON parses a raw JSON value as an id.
func ParseIDJSON(b []byte) (int64, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return 0, fmt.Errorf("id must be an integer or a decimal string, got null")
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, fmt.Errorf("id is not a valid JSON string")
		}
		s = strings.TrimSpace(s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("id %s is not a 64-bit integer", truncate(string(b), 40))
	}
	return v, nil
}

// MarshalJSON encodes the id as a JSON number.
func (id ID) MarshalJSON() ([]byte, error) { return strconv.AppendInt(nil, int64(id), 10), nil }

// StringID is an id that encodes as a JSON string (upstream does so for execution ids
// returned by /api/execute, catalog ids and credential ids) and decodes leniently.
type StringID int64

// MarshalJSON encodes the id as a JSON string of decimal digits.
func (id StringID) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(id), 10)), nil
}

// UnmarshalJSON accepts a number or a decimal string (typeError otherwise).
func (id *StringID) UnmarshalJSON(b []byte) error {
	v, err := ParseIDJSON(b)
	if err != nil {
		return typeError(b, reflect.TypeFor[StringID]())
	}
	*id = StringID(v)
	return nil
}

// typeError is the error of an id field that does not hold an id. It is a
// *json.UnmarshalTypeError, not a plain error, because encoding/json adds the path of
// the struct field being decoded only to that type: a request body's decoder can then
// say which field is wrong (`field "version": expected an integer, got JSON string
// "abc"`) for every id field alike. Value describes the JSON value the way the
// decoder's own type errors do, with the offending text (at most 40 bytes) so the
// answer shows what was sent.
func typeError(b []byte, t reflect.Type) error {
	return &json.UnmarshalTypeError{Value: describe(bytes.TrimSpace(b)), Type: t}
}

func describe(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case 'n':
		return "null"
	case 't', 'f':
		return "bool"
	case '[':
		return "array"
	case '{':
		return "object"
	case '"':
		var s string
		if json.Unmarshal(b, &s) != nil {
			return "string"
		}
		return "string " + strconv.Quote(truncate(s, 40)) + beyond64(strings.TrimSpace(s))
	default:
		return "number " + truncate(string(b), 40) + beyond64(string(b))
	}
}

// beyond64 notes a decimal integer that does not fit 64 bits: "an integer" is what the
// field expects, so the answer says why this one is not.
func beyond64(s string) string {
	if _, err := strconv.ParseInt(s, 10, 64); errors.Is(err, strconv.ErrRange) {
		return " (beyond 64 bits)"
	}
	return ""
}

// Time is a UTC timestamp that encodes like chrono's DateTime<Utc>: RFC 3339 with a Z
// suffix and fractional seconds only when non-zero, as 3, 6 or 9 digits.
type Time time.Time

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, FormatTime(time.Time(t))), nil
}

// UnmarshalJSON accepts RFC 3339 with an offset.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp must be an RFC 3339 string")
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q is not RFC 3339 with an offset", truncate(s, 40))
	}
	*t = Time(v.UTC())
	return nil
}

// FormatTime renders t the chrono way.
func FormatTime(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	base := t.Format("2006-01-02T15:04:05")
	switch {
	case ns == 0:
		return base + "Z"
	case ns%1_000_000 == 0:
		return fmt.Sprintf("%s.%03dZ", base, ns/1_000_000)
	case ns%1_000 == 0:
		return fmt.Sprintf("%s.%06dZ", base, ns/1_000)
	default:
		return fmt.Sprintf("%s.%09dZ", base, ns)
	}
}

// TimePtr converts a nullable time for JSON (nil stays null).
func TimePtr(t *time.Time) *Time {
	if t == nil {
		return nil
	}
	v := Time(*t)
	return &v
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
