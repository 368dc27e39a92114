// Package strictjson reads the wallet's request bodies strictly: a body that names one
// key twice in an object, at any depth, is a 400.
//
// encoding/json keeps the last of duplicated keys, and matches a key to a struct field
// without regard to case, so {"name":"a","NAME":"b"} writes "b". A proxy, an audit tap
// or a policy check in front of the wallet that reads the first occurrence (as many
// parsers do) then sees another credential, alias or key than the wallet acts on. A body
// with one meaning for every reader is required instead.
//
// It also refuses (422) a number float64 cannot hold anywhere in a body, as the shared
// decoders do (docs/security.md): raw fields such as credential data would keep it as
// written, and the worker could not decode the value later.
package strictjson

import "bytes"
import "encoding/json"
import "errors"
import "math"
import "reflect"
import "strconv"
import "strings"
import "sync"
import "unicode"
import "unicode/utf8"

import "github.com/gin-gonic/gin"

import "github.com/noetl/controlplane/shared/httpx"

// MaxDepth bounds the nesting of objects and arrays in a body. Credential data is a few
// levels deep; the bound keeps the check (and the decoder) from walking a body that is
// nothing but brackets.
const MaxDepth = 64

// Body is the parse function of a wallet route whose input is its JSON body: httpx.Body's
// checks and error mapping, then the nesting bound, duplicate keys and number range.
func Body[T any](c *gin.Context) (T, error) {
	var v T
	err := Bind(c, &v)
	return v, err
}

// Bind reads the body into v as Body does.
func Bind(c *gin.Context, v any) error {
	body, err := httpx.ReadJSONBody(c)
	if err != nil {
		return err
	}
	if err := checkDepth(body); err != nil {
		return err
	}
	if err := httpx.DecodeJSON(body, v); err != nil {
		return err
	}
	return checkKeys(body, reflect.TypeOf(v))
}

// checkKeys answers a 400 when body, valid JSON no deeper than MaxDepth to be decoded
// into a value of type t, has an object that names a key twice. Inside a struct, keys
// that encoding/json folds into the same field ("name" and "Name") are the same key;
// elsewhere (a map, raw data) keys are compared exactly. The message names a field of
// the request, never a key or value from inside one (credential data is secret). A
// number float64 cannot hold is a 422.
func checkKeys(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := walk(dec, t, "")
	var dup *duplicateError
	switch {
	case errors.As(err, &dup) && dup.top == "":
		return httpx.BadRequest("malformed JSON: the request body names a key more than once")
	case errors.As(err, &dup) && dup.nested:
		return httpx.BadRequest("malformed JSON: field %q holds an object that names a key more than once", dup.top)
	case errors.As(err, &dup):
		return httpx.BadRequest("malformed JSON: field %q appears more than once", dup.top)
	case errors.Is(err, errOutOfRange):
		// The number is not quoted: it may be a secret.
		return httpx.Validation("request body holds a number out of range (beyond ±1.8e308)")
	case err != nil:
		return httpx.BadRequest("malformed JSON: %v", err)
	}
	return nil
}

// duplicateError is a duplicated key: top is the request field it is in or is ("" for
// a key no field takes), nested whether it is inside that field's value.
type duplicateError struct {
	top    string
	nested bool
}

func (e *duplicateError) Error() string { return "duplicate key" }

var errOutOfRange = errors.New("number out of range")

// IsObject reports whether raw, a JSON value, is an object.
func IsObject(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) > 0 && b[0] == '{'
}

// NullableText is an optional JSON field of a body as a JSONB column takes it: its text,
// or nil (SQL NULL) when the field is absent or null.
func NullableText(raw json.RawMessage) *string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	v := string(b)
	return &v
}

// checkDepth refuses a body nested deeper than MaxDepth (422: well-formed, but not a
// body any wallet route takes). Brackets inside strings are skipped.
func checkDepth(body []byte) error {
	depth, inString, escaped := 0, false, false
	for _, b := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			if depth++; depth > MaxDepth {
				return httpx.Validation("request body is nested deeper than %d levels", MaxDepth)
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return nil
}

// walk reads one value from dec, t being the type it decodes into (nil when unknown:
// raw JSON, an interface, a custom unmarshaler or a key no field takes). top is the
// request field the value is in ("" for the body itself). checkDepth bounds the
// recursion.
func walk(dec *json.Decoder, t reflect.Type, top string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if n, ok := tok.(json.Number); ok {
		// Raw fields (credential data, meta) keep numbers as written, and a worker's
		// decoder refuses one float64 cannot hold: the value would be stored and
		// then fail every step that reads it.
		if f, err := strconv.ParseFloat(string(n), 64); err != nil && math.IsInf(f, 0) {
			return errOutOfRange
		}
		return nil
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil // another scalar
	}
	t = structural(t)
	switch delim {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walk(dec, elem, top); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]field
		var elem reflect.Type
		switch {
		case t != nil && t.Kind() == reflect.Struct:
			fields = fieldsOf(t)
		case t != nil && t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			id, vt, name := "key:"+key, elem, ""
			if fields != nil {
				if f, ok := lookup(fields, key); ok {
					id, vt, name = "field:"+f.name, f.typ, f.name
				} else {
					vt = nil
				}
			}
			if top != "" {
				name = top
			}
			if seen[id] {
				return &duplicateError{top: name, nested: top != ""}
			}
			seen[id] = true
			if err := walk(dec, vt, name); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

var (
	unmarshaler = reflect.TypeFor[json.Unmarshaler]()
	rawMessage  = reflect.TypeFor[json.RawMessage]()
)

// structural is t without pointers, or nil when the decoder does not descend into t's
// fields itself (a custom unmarshaler, raw JSON, an interface).
func structural(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t == rawMessage || t.Kind() == reflect.Interface ||
		t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	return t
}

type field struct {
	name string
	typ  reflect.Type
}

var fieldCache sync.Map // reflect.Type -> map[string]field

// fieldsOf is the JSON fields of struct t by name, embedded structs' promoted fields
// included (a shallower field wins, as in encoding/json).
func fieldsOf(t reflect.Type) map[string]field {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]field)
	}
	out := map[string]field{}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		var embedded []reflect.Type
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous && name == "" {
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					embedded = append(embedded, ft)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if _, taken := out[name]; !taken {
				out[name] = field{name: name, typ: sf.Type}
			}
		}
		for _, e := range embedded { // one level deeper than t's own fields
			add(e)
		}
	}
	add(t)
	fieldCache.Store(t, out)
	return out
}

// lookup is the field encoding/json decodes key into: the exact name, else the first
// whose name folds alike.
func lookup(fields map[string]field, key string) (field, bool) {
	if f, ok := fields[key]; ok {
		return f, true
	}
	k := fold(key)
	for name, f := range fields {
		if fold(name) == k {
			return f, true
		}
	}
	return field{}, false
}

// fold is encoding/json's case folding of names (foldName in its fold.go).
func fold(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(unicode.ToUpper(unicode.ToLower(r)))
		i += n
	}
	return b.String()
}
