// Package jsonx decodes and encodes JSON in the value model shared by every service:
// nil, bool, int64, float64, string, []any and map[string]any.
//
// Integral numbers that fit in 64 bits decode as int64 and never pass through float64,
// because snowflake ids exceed 2^53. Everything else numeric is float64.
package jsonx

import "bytes"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "iter"
import "math"
import "math/big"
import "reflect"
import "strconv"
import "strings"

// Decode parses one JSON document into the value model.
// Trailing non-space data after the document is an error.
func Decode(data []byte) (any, error) { return decode(data, false) }

// DecodeExactIntegers is Decode for a document from outside (an HTTP body, a json
// column) whose integers beyond 64 bits are identifiers more often than quantities
// (an unsigned 64-bit id, a 20-digit account number): each is its exact decimal text,
// as the python tool gives such an integer, where Decode would round it to a float
// (12345678901234567890 became 12345678901234567000, another id).
func DecodeExactIntegers(data []byte) (any, error) { return decode(data, true) }

func decode(data []byte, exactIntegers bool) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode json: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode json: unexpected data after the document")
	}
	out, err := fromDecoded(v, exactIntegers)
	if err != nil {
		return nil, fmt.Errorf("decode json: %w", err)
	}
	return out, nil
}

// fromDecoded converts what encoding/json decoded (with UseNumber) into the model in
// place, as Normalize would, but refuses a number float64 cannot hold (1e400, or an
// integer of thousands of digits): it would become +Inf, which neither JSON nor
// PostgreSQL can store, and fail later as a server error. With exactIntegers an integer
// literal beyond 64 bits is its decimal text instead.
func fromDecoded(v any, exactIntegers bool) (any, error) {
	switch t := v.(type) {
	case json.Number:
		n, err := Number(string(t))
		if err != nil {
			return nil, err
		}
		if _, isFloat := n.(float64); isFloat && exactIntegers && !strings.ContainsAny(string(t), ".eE") {
			return string(t), nil
		}
		if f, ok := n.(float64); ok && math.IsInf(f, 0) {
			lit := string(t)
			if len(lit) > 24 {
				lit = fmt.Sprintf("%s... (%d characters)", lit[:24], len(lit))
			}
			return nil, fmt.Errorf("number %s is out of range (beyond ±1.8e308)", lit)
		}
		return n, nil
	case []any:
		for i, e := range t {
			n, err := fromDecoded(e, exactIntegers)
			if err != nil {
				return nil, err
			}
			t[i] = n
		}
	case map[string]any:
		for k, e := range t {
			n, err := fromDecoded(e, exactIntegers)
			if err != nil {
				return nil, err
			}
			t[k] = n
		}
	}
	return v, nil
}

// DecodeObject parses a JSON document that must be an object.
func DecodeObject(data []byte) (map[string]any, error) {
	v, err := Decode(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode json: expected an object, got %s", TypeName(v))
	}
	return m, nil
}

// Number converts a JSON number literal into int64 when it is integral and fits,
// else float64. Integral literals written with an exponent or a fraction of zeros
// ("1e3", "2.0") stay float64, as JSON parsers in other languages treat them.
func Number(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Out of range integers (> int64) still have a float value.
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, nil
		}
		return nil, fmt.Errorf("parse number %q: %w", s, err)
	}
	return f, nil
}

// Normalize converts a value produced by encoding/json (with or without UseNumber),
// by a YAML decoder, or assembled in Go into the value model. Maps with non-string keys
// get their keys formatted as strings; integer types become int64 (uint64 above
// MaxInt64 becomes float64); float32 becomes float64; []byte becomes a string.
// Values of other types (structs, time.Time, ...) are passed through JSON encoding.
// Normalize returns new maps and slices only where something changed.
func Normalize(v any) any {
	switch t := v.(type) {
	case nil, bool, int64, float64, string:
		return v
	case json.Number:
		n, err := Number(string(t))
		if err != nil {
			return string(t)
		}
		return n
	case int, int8, int16, int32:
		return reflect.ValueOf(t).Int()
	case uint, uint8, uint16, uint32, uint64:
		return normUint(reflect.ValueOf(t).Uint())
	case float32:
		return float64(t)
	case []byte:
		return string(t)
	case *big.Int:
		if t.IsInt64() {
			return t.Int64()
		}
		f, _ := new(big.Float).SetInt(t).Float64()
		return f
	case []any:
		out := t
		for i, e := range t {
			n := Normalize(e)
			if !sameScalar(n, e) {
				if &out[0] == &t[0] {
					out = append([]any(nil), t...)
				}
				out[i] = n
			}
		}
		return out
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			n := Normalize(e)
			if !sameScalar(n, e) {
				if out == nil {
					out = make(map[string]any, len(t))
					for k2, e2 := range t {
						out[k2] = e2
					}
				}
				out[k] = n
			}
		}
		if out == nil {
			return t
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[KeyString(k)] = Normalize(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = Normalize(e)
		}
		return out
	case []string:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	}
	return normalizeReflect(v)
}

// sameScalar reports whether normalizing left the value untouched. Composite values
// are compared by identity of their backing storage, scalars by value.
func sameScalar(a, b any) bool {
	switch at := a.(type) {
	case map[string]any:
		bt, ok := b.(map[string]any)
		return ok && reflect.ValueOf(at).UnsafePointer() == reflect.ValueOf(bt).UnsafePointer()
	case []any:
		bt, ok := b.([]any)
		return ok && len(at) == len(bt) && (len(at) == 0 || &at[0] == &bt[0])
	}
	switch b.(type) {
	case nil, bool, int64, float64, string:
		return a == b
	}
	return false
}

func normUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return float64(u)
}

func normalizeReflect(v any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = Normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.IsNil() {
			return nil
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[KeyString(it.Key().Interface())] = Normalize(it.Value().Interface())
		}
		return out
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return normUint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return rv.Float()
	}
	// Anything else (structs, time.Time, ...) takes its JSON form.
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	out, err := Decode(data)
	if err != nil {
		return fmt.Sprint(v)
	}
	return out
}

// KeyString formats a map key of any type as the string JSON would use.
func KeyString(k any) string {
	switch t := k.(type) {
	case string:
		return t
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	}
	return fmt.Sprint(k)
}

// Marshal encodes v as compact JSON without HTML escaping (templates and SQL read the
// output; "<" must stay "<"). Values outside the model are encoded by encoding/json.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // Encode appends a newline
}

// MarshalString is Marshal returning a string.
func MarshalString(v any) (string, error) {
	b, err := Marshal(v)
	return string(b), err
}

// TypeName names the JSON type of a model value, for error messages.
func TypeName(v any) string {
	switch v.(type) {
	case int, json.Number:
		return "number"
	}
	return jsonTypes.Of(v)
}

var jsonTypes = KindNames{Null: "null", Bool: "boolean", Integer: "number", Float: "number", String: "string", Array: "array", Object: "object"}

// KindNames names the kinds of the value model in one vocabulary. Each consumer keeps
// its own words (JSON's, YAML's, Python's) because they are part of its error texts.
type KindNames struct {
	Null, Bool, Integer, Float, String, Array, Object string
	// Other names every value the fields above leave unnamed; when it is empty, such a
	// value is named by its Go type.
	Other string
}

// Of names the kind of v.
func (n KindNames) Of(v any) string {
	var name string
	switch v.(type) {
	case nil:
		name = n.Null
	case bool:
		name = n.Bool
	case int64:
		name = n.Integer
	case float64:
		name = n.Float
	case string:
		name = n.String
	case []any:
		name = n.Array
	case map[string]any:
		name = n.Object
	}
	switch {
	case name != "":
		return name
	case n.Other != "":
		return n.Other
	}
	return fmt.Sprintf("%T", v)
}

// AsFloat reads a model number (int64 or float64) as float64; ok is false for any
// other value.
func AsFloat(v any) (f float64, ok bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// MapChildren returns a list or a map rebuilt with f applied to each element (the
// input is not modified); any other value is returned as it is. It does not recurse by
// itself: a recursive f descends by calling MapChildren again.
func MapChildren(v any, f func(any) any) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = f(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = f(e)
		}
		return out
	}
	return v
}

// Strings yields every string in v, depth first: string leaves, and the keys of maps
// (templates render keys too, so a scan for references must see them). Map order is
// Go's, so callers that need an order sort what they collect.
func Strings(v any) iter.Seq[string] {
	return func(yield func(string) bool) { eachString(v, yield) }
}

func eachString(v any, yield func(string) bool) bool {
	switch t := v.(type) {
	case string:
		return yield(t)
	case []any:
		for _, e := range t {
			if !eachString(e, yield) {
				return false
			}
		}
	case map[string]any:
		for k, e := range t {
			if !yield(k) || !eachString(e, yield) {
				return false
			}
		}
	}
	return true
}

// Absent reports whether a raw JSON field was missing (nil or empty) or null: a request
// field that must carry a value has neither.
func Absent(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}
