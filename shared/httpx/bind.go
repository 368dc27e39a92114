package httpx

import "bytes"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "mime"
import "net/http"
import "reflect"
import "strconv"
import "strings"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/jsonx"

// ReadJSONBody reads the request body after checking it is JSON, mapping each failure to
// its status: wrong content type 415, oversize 413, empty or not UTF-8 400, strings that
// PostgreSQL cannot store 422 (CheckJSONText).
func ReadJSONBody(c *gin.Context) ([]byte, error) {
	ct := c.GetHeader("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil, WithStatus(http.StatusUnsupportedMediaType, "expected a request with Content-Type: application/json", nil)
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, WithStatus(http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body exceeds the limit of %d bytes", mbe.Limit), nil)
		}
		return nil, BadRequest("could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, BadRequest("request body is empty; expected a JSON document")
	}
	if err := CheckJSONText(body); err != nil {
		return nil, err
	}
	return body, nil
}

// BindJSON reads and decodes a JSON body into v. Syntax errors are 400; a value of the
// wrong type for a field is 422 and names the field. Unknown fields are ignored, as
// upstream clients send extra keys.
func BindJSON(c *gin.Context, v any) error {
	body, err := ReadJSONBody(c)
	if err != nil {
		return err
	}
	return DecodeJSON(body, v)
}

// DecodeJSON decodes body into v with BindJSON's error mapping.
func DecodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return classifyJSONError(err, reflect.TypeOf(v))
	}
	if dec.More() {
		return BadRequest("malformed JSON: unexpected data after the top-level value")
	}
	return nil
}

// DecodeObject decodes a body that must be a JSON object into the value model (jsonx),
// with DecodeJSON's mapping: broken syntax is a 400 saying where, well-formed JSON that
// is not an object, or holds a number no float64 can (1e400), is a 422. The routes that
// take free-form objects share it so that one bad body gets one answer everywhere.
func DecodeObject(body []byte) (map[string]any, error) {
	if !json.Valid(body) {
		if err := DecodeJSON(body, new(any)); err != nil {
			return nil, err
		}
		// A document followed by a stray closing bracket, which the decoder's More
		// does not report.
		return nil, BadRequest("malformed JSON: unexpected data after the top-level value")
	}
	v, err := jsonx.Decode(body)
	if err != nil {
		return nil, Validation("invalid request body: %s", strings.TrimPrefix(err.Error(), "decode json: "))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Validation("request body must be a JSON object")
	}
	return m, nil
}

func classifyJSONError(err error, target reflect.Type) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var he *Error
	switch {
	case errors.As(err, &he):
		return err
	case errors.As(err, &se):
		return BadRequest("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return BadRequest("malformed JSON: unexpected end of input")
	case errors.As(err, &te):
		field := clientPath(target, te.Field)
		if field == "" {
			return Validation("request body must be %s, got JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
		}
		return Validation("field %q: expected %s, got JSON %s", field, jsonKind(te.Type.Kind().String()), te.Value)
	default:
		// Custom UnmarshalJSON implementations (ids that accept numbers or strings, ...)
		// report domain errors: the JSON was well-formed, the value was not acceptable.
		return Validation("invalid request body: %v", err)
	}
}

// clientPath is a type error's field path as the client wrote it. encoding/json puts
// the Go name of each embedded struct the field is reached through into the path
// (Go 1.24 on): a registration's capacity was reported as "Registration.capacity", a
// name no client sends. Those segments are dropped, following target's type to tell
// them from JSON keys.
func clientPath(target reflect.Type, path string) string {
	if path == "" {
		return ""
	}
	t := target
	var out []string
	for _, seg := range strings.Split(path, ".") {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			out, t = append(out, seg), nil
			continue
		}
		if f, ok := t.FieldByName(seg); ok && f.Anonymous && f.Tag.Get("json") == "" {
			t = f.Type
			continue
		}
		out, t = append(out, seg), jsonFieldType(t, seg)
	}
	return strings.Join(out, ".")
}

// jsonFieldType is the type of the field of struct t that the JSON key name decodes
// into, nil when none does (the path is then kept as it stands).
func jsonFieldType(t reflect.Type, name string) reflect.Type {
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if key == "" {
			key = f.Name
		}
		if strings.EqualFold(key, name) {
			return f.Type
		}
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	default:
		return goKind
	}
}

// QueryInt64 parses an optional integer query parameter (execution ids and the like);
// absent or empty is nil, anything but a 64-bit decimal integer is a 400.
func QueryInt64(c *gin.Context, name string) (*int64, error) {
	s := c.Query(name)
	if s == "" {
		return nil, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, BadRequest("query parameter %s must be a 64-bit integer", name)
	}
	return &v, nil
}

// PathInt64 parses the integer path parameter name; anything else is a 400 in upstream's
// words: Invalid URL: cannot parse "<raw>" as <what>.
func PathInt64(c *gin.Context, name, what string) (int64, error) {
	raw := c.Param(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, BadRequest("Invalid URL: cannot parse %q as %s", raw, what)
	}
	return id, nil
}
