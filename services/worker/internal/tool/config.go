package tool

import "fmt"
import "math"
import "sort"
import "strconv"
import "strings"
import "time"

import "github.com/noetl/controlplane/shared/jsonx"

// ConfigError is a configuration problem of a call: a missing or mistyped field. Tools
// turn it into an error result of kind "config" (not retryable).
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// Configf builds a ConfigError.
func Configf(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// ConfigFailure is the result of a configuration error.
func ConfigFailure(kind string, err error) Result {
	return Failed("config", false, "Configuration error: %s: %v", kind, err)
}

// String reads the first of keys that holds a non-empty string. A key that holds
// another type is an error.
func String(cfg map[string]any, keys ...string) (string, bool, error) {
	for _, k := range keys {
		v, ok := cfg[k]
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return "", false, Configf("%s must be a string, got %s", k, jsonx.TypeName(v))
		}
		if s != "" {
			return s, true, nil
		}
	}
	return "", false, nil
}

// Number reads a number given as a JSON number or a numeric string.
func Number(v any, name string) (float64, error) {
	if f, ok := jsonx.AsFloat(v); ok {
		return f, nil
	}
	switch t := v.(type) {
	case int:
		return float64(t), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return 0, Configf("%s must be a number, got %s", name, jsonx.TypeName(v))
}

// Seconds reads the first of keys as a number of seconds. ok is false when none is set.
func Seconds(cfg map[string]any, keys ...string) (d time.Duration, ok bool, err error) {
	for _, k := range keys {
		v, present := cfg[k]
		if !present || v == nil {
			continue
		}
		f, err := Number(v, k)
		if err != nil {
			return 0, false, err
		}
		if f <= 0 {
			return 0, false, Configf("%s must be positive, got %v", k, f)
		}
		return SecondsDuration(f), true, nil
	}
	return 0, false, nil
}

// SecondsDuration is f seconds as a Duration, saturating at the longest one: past about
// 292 years the conversion wraps to a negative Duration, and a `timeout_seconds:
// 9999999999` meant as "no limit" timed out at once.
func SecondsDuration(f float64) time.Duration {
	ns := f * float64(time.Second)
	switch {
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}

// Bool reads a boolean given as a JSON boolean or as true/false text, def when unset.
func Bool(cfg map[string]any, key string, def bool) (bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true", "1", "yes", "on":
			return true, nil
		case "false", "0", "no", "off":
			return false, nil
		}
	case int64:
		return t != 0, nil
	}
	return false, Configf("%s must be a boolean, got %s", key, jsonx.TypeName(v))
}

// Text is a value as a header, query parameter or form field carries it: strings as
// they are, numbers and booleans printed, anything else JSON-encoded.
func Text(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	}
	s, err := jsonx.MarshalString(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

// Pair is one entry of a string map.
type Pair struct{ Key, Value string }

// StringPairs reads an object of headers or environment variables: values coerced by
// Text, null entries dropped, keys sorted (so requests are reproducible). A list value is
// a config error naming the entry: it reads as several values (two Accept headers, a
// PATH), which one header or variable cannot hold, and Text would quietly send its
// JSON text ("[\"a\",\"b\"]") instead.
func StringPairs(cfg map[string]any, key string) ([]Pair, error) {
	return readPairs(cfg, key, false)
}

// RepeatedPairs reads an object of query parameters or form fields: StringPairs, except
// that a list value is one pair per element (?tag=a&tag=b), in the list's order.
func RepeatedPairs(cfg map[string]any, key string) ([]Pair, error) {
	return readPairs(cfg, key, true)
}

// readPairs is StringPairs (lists false) and RepeatedPairs (lists true).
func readPairs(cfg map[string]any, key string, lists bool) ([]Pair, error) {
	m, err := Object(cfg, key)
	if err != nil || m == nil {
		return nil, err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Pair, 0, len(m))
	for _, k := range keys {
		vals, isList := m[k].([]any)
		switch {
		case isList && !lists:
			return nil, Configf("%s.%s is a list; give one string (join the values, or encode them with the tojson filter)", key, k)
		case !isList:
			vals = []any{m[k]}
		}
		for _, v := range vals {
			if v != nil {
				out = append(out, Pair{k, Text(v)})
			}
		}
	}
	return out, nil
}

// Object reads an object field (nil when unset).
func Object(cfg map[string]any, key string) (map[string]any, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Configf("%s must be an object, got %s", key, jsonx.TypeName(v))
	}
	return m, nil
}

// Args is a tool's arguments: `args`, with `input` (upstream's alias) laid over it.
func Args(cfg map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for _, k := range []string{"args", "input"} {
		m, err := Object(cfg, k)
		if err != nil {
			return nil, err
		}
		for kk, v := range m {
			out[kk] = v
		}
	}
	return out, nil
}

// LastLine is the last non-empty line of text, for error messages that name what went
// wrong (a traceback's exception line).
func LastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// CredentialHeadersKey is the config key under which the credentials layer lists the
// request headers it made from a credential (an api_key credential's X-API-Key or the
// header it names). The http tool keeps them off a redirect to another host, as Go's
// client does for Authorization and Cookie, which are the only ones it knows.
const CredentialHeadersKey = "_credential_headers"
