package envelope

import "bytes"
import "encoding/base64"
import "encoding/json"
import "errors"
import "fmt"
import "io"
import "strings"

const (
	// EnvelopeVersion is the only stored-envelope format version ("v").
	EnvelopeVersion = 1
	// Alg is the only data algorithm ("alg").
	Alg = "AES-256-GCM"
	// InvalidKeyVersion is the key-status bucket for values that are not
	// well-formed stored envelopes (upstream's COALESCE(..., 'invalid')).
	InvalidKeyVersion = "invalid"
)

// ErrNotEnvelope marks a stored value that is not a well-formed stored
// envelope: legacy rows (plaintext JSON from the Python server, bare base64
// from pre-envelope Rust servers), truncation, bad base64, unknown v/alg.
// There is no legacy read path; the remedy is to register the secret again.
var ErrNotEnvelope = errors.New("not a wallet envelope record")

// StoredEnvelope is the value of credential/keychain data_encrypted:
// {"v":1,"alg":"AES-256-GCM","ct":"<b64>","dek":{"p":..,"kid":..,"kv":..,"ct":"<b64>"}}
// with the data encrypted under a per-record DEK and the DEK wrapped by a
// KeyManager. Neither ciphertext is secret.
type StoredEnvelope struct {
	V          int16
	Alg        string
	Ciphertext []byte // nonce || AES-GCM(DEK, plaintext) || tag
	DEK        WrappedDEK
}

type wireDEK struct {
	P   string `json:"p"`
	Kid string `json:"kid"`
	Kv  string `json:"kv"`
	Ct  string `json:"ct"`
}

// wireEnvelope fixes the field order upstream serialises (struct order).
type wireEnvelope struct {
	V   int16   `json:"v"`
	Alg string  `json:"alg"`
	Ct  string  `json:"ct"`
	Dek wireDEK `json:"dek"`
}

// Encode returns the compact storage string, byte-identical to upstream
// (standard padded base64, no HTML escaping, no trailing newline).
func (e StoredEnvelope) Encode() string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Encoding a struct of strings and an int16 cannot fail.
	_ = enc.Encode(wireEnvelope{
		V:   e.V,
		Alg: e.Alg,
		Ct:  base64.StdEncoding.EncodeToString(e.Ciphertext),
		Dek: wireDEK{
			P:   e.DEK.Provider,
			Kid: e.DEK.KeyID,
			Kv:  e.DEK.KeyVersion,
			Ct:  base64.StdEncoding.EncodeToString(e.DEK.Ciphertext),
		},
	})
	return strings.TrimSuffix(buf.String(), "\n")
}

// ParseStoredEnvelope parses a storage string, ignoring surrounding whitespace
// and unknown keys. Field names are case-sensitive, every field is required,
// base64 is strict standard padded, v must be 1 and alg AES-256-GCM. Errors
// wrap ErrNotEnvelope and never quote the input, which for legacy rows may be
// plaintext.
func ParseStoredEnvelope(raw string) (StoredEnvelope, error) {
	fail := func(format string, args ...any) (StoredEnvelope, error) {
		return StoredEnvelope{}, fmt.Errorf("%w: "+format, append([]any{ErrNotEnvelope}, args...)...)
	}
	top, err := decodeObject([]byte(strings.TrimSpace(raw)), "v", "alg", "ct", "dek")
	if err != nil {
		return fail("%v", err)
	}
	var w wireEnvelope
	if err := decodeField(top, "", "v", &w.V, "a 16-bit integer"); err != nil {
		return fail("%v", err)
	}
	if err := decodeField(top, "", "alg", &w.Alg, "a string"); err != nil {
		return fail("%v", err)
	}
	if err := decodeField(top, "", "ct", &w.Ct, "a string"); err != nil {
		return fail("%v", err)
	}
	rawDEK, err := required(top, "", "dek")
	if err != nil {
		return fail("%v", err)
	}
	dek, err := decodeObject(rawDEK, "p", "kid", "kv", "ct")
	if err != nil {
		return fail("field \"dek\": %v", err)
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"p", &w.Dek.P}, {"kid", &w.Dek.Kid}, {"kv", &w.Dek.Kv}, {"ct", &w.Dek.Ct}} {
		if err := decodeField(dek, "dek.", f.name, f.dst, "a string"); err != nil {
			return fail("%v", err)
		}
	}
	if w.V != EnvelopeVersion {
		return fail("unsupported envelope version (expected %d)", EnvelopeVersion)
	}
	if w.Alg != Alg {
		return fail("unsupported alg (expected %q)", Alg)
	}
	ct, err := decodeB64(w.Ct)
	if err != nil {
		return fail("envelope ct base64: %v", err)
	}
	dct, err := decodeB64(w.Dek.Ct)
	if err != nil {
		return fail("envelope dek base64: %v", err)
	}
	return StoredEnvelope{
		V:          w.V,
		Alg:        w.Alg,
		Ciphertext: ct,
		DEK:        WrappedDEK{Provider: w.Dek.P, KeyID: w.Dek.Kid, KeyVersion: w.Dek.Kv, Ciphertext: dct},
	}, nil
}

// KeyVersion reports dek.kv of a storage string without any key, for
// key-status. ok is false when raw is not a well-formed stored envelope;
// callers count those under InvalidKeyVersion.
func KeyVersion(raw string) (version string, ok bool) {
	e, err := ParseStoredEnvelope(raw)
	if err != nil {
		return "", false
	}
	return e.DEK.KeyVersion, true
}

// KeyVersionLabel is KeyVersion as the label key-status and the audit record: dek.kv, or
// InvalidKeyVersion when raw is not a well-formed stored envelope.
func KeyVersionLabel(raw string) string {
	if v, ok := KeyVersion(raw); ok {
		return v
	}
	return InvalidKeyVersion
}

// decodeB64 is upstream's STANDARD engine: padded, canonical, no line breaks
// (which Go's decoder would otherwise skip).
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// decodeObject reads one JSON object and returns the raw values of the wanted
// keys. Unlike encoding/json it matches keys case-sensitively, rejects
// duplicated wanted keys and trailing data (as serde does), and its errors
// carry offsets, not input text.
func decodeObject(data []byte, wanted ...string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := make(map[string]json.RawMessage, len(wanted))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, jsonErr(err)
		}
		for _, w := range wanted {
			if key == w {
				if _, dup := out[key]; dup {
					return nil, fmt.Errorf("duplicate field %q", key)
				}
				out[key] = v
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the JSON object at offset %d", dec.InputOffset())
	}
	return out, nil
}

func jsonErr(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at offset %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("unexpected end of JSON input")
	default:
		return errors.New("invalid JSON")
	}
}

func required(obj map[string]json.RawMessage, prefix, name string) (json.RawMessage, error) {
	v, ok := obj[name]
	if !ok {
		return nil, fmt.Errorf("missing field %q", prefix+name)
	}
	if string(v) == "null" {
		return nil, fmt.Errorf("field %q: invalid type: null", prefix+name)
	}
	return v, nil
}

func decodeField(obj map[string]json.RawMessage, prefix, name string, dst any, want string) error {
	v, err := required(obj, prefix, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("field %q: expected %s", prefix+name, want)
	}
	return nil
}
