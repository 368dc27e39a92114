// Package config loads environment variables into typed structs with caarlos0/env and
// turns every failure into an error that names the variable, so a misconfigured binary
// stops at startup instead of silently running on defaults (the upstream server fell
// back to defaults for the whole struct when a single value failed to parse).
package config

import "errors"
import "fmt"
import "os"
import "reflect"
import "strings"

import "github.com/caarlos0/env/v11"

// LoadConfig reads environ (nil = the process environment) over defaults and validates
// the result: the one loading path of every binary. defaults carries what a binary sets
// before loading (its own NOETL_PORT); a field keeps its default when its variable is
// unset and its tag has no envDefault. Validate runs when *T has one.
func LoadConfig[T any](environ map[string]string, defaults T) (T, error) {
	cfg := defaults
	if err := LoadFrom(&cfg, environ); err != nil {
		var zero T
		return zero, err
	}
	return cfg, nil
}

// LoadFrom parses environ (nil means the process environment) into cfg, a pointer to a
// struct, then runs its Validate when it has one. Fields already set on cfg keep their
// value when the variable is unset and the field has no envDefault, which is how each
// binary gives NOETL_PORT its own default. Tests pass an explicit environment so that
// they do not mutate the process's.
func LoadFrom(cfg any, environ map[string]string) error {
	environ, err := secretFiles(cfg, environ)
	if err != nil {
		return err
	}
	opts := env.Options{Environment: environ}
	if err := env.ParseWithOptions(cfg, opts); err != nil {
		return namedError(cfg, err, environ)
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// FileSuffix turns a secret variable's name into the variable naming a file that holds
// its value (NOETL_ENCRYPTION_KEY_FILE): secrets mounted as files by a CSI driver, Docker
// secrets or a Kubernetes Secret volume, which never enter the environment.
const FileSuffix = "_FILE"

// secretFiles reads <NAME>_FILE for every Secret variable of cfg into <NAME>: a copy of
// environ (of the process environment when nil) with the values added, or environ itself
// when no such variable is set. Both set is an error (which one was meant is a guess);
// so is a file that cannot be read. Trailing line breaks are dropped, as `echo` and
// editors leave one; errors name the variable and the path, never the content.
func secretFiles(cfg any, environ map[string]string) (map[string]string, error) {
	lookup := func(k string) (string, bool) {
		if environ == nil {
			return os.LookupEnv(k)
		}
		v, ok := environ[k]
		return v, ok
	}
	secretType := reflect.TypeOf(Secret(""))
	all := fields(reflect.TypeOf(cfg))
	own := map[string]bool{}
	for _, f := range all {
		own[f.key] = true
	}
	var out map[string]string
	var errs []string
	for _, f := range all {
		// A <NAME>_FILE the binary reads itself (NOETL_K8S_TOKEN_FILE, re-read on every
		// fetch so that a projected token rotates) keeps its own meaning.
		if f.typ != secretType || own[f.key+FileSuffix] {
			continue
		}
		path, _ := lookup(f.key + FileSuffix)
		if path == "" {
			continue
		}
		if v, _ := lookup(f.key); v != "" {
			errs = append(errs, fmt.Sprintf("%s and %s%s are both set: set one", f.key, f.key, FileSuffix))
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s%s: %v", f.key, FileSuffix, err))
			continue
		}
		if out == nil {
			out = map[string]string{}
			if environ == nil {
				for _, kv := range os.Environ() {
					if k, v, ok := strings.Cut(kv, "="); ok {
						out[k] = v
					}
				}
			} else {
				for k, v := range environ {
					out[k] = v
				}
			}
		}
		out[f.key] = strings.TrimRight(string(b), "\r\n")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	if out == nil {
		return environ, nil
	}
	return out, nil
}

// namedError rewrites caarlos0/env errors, which name Go fields, into messages that name
// the environment variable an operator has to fix.
func namedError(cfg any, err error, environ map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	keys := map[string][]fieldKey{}
	for _, f := range fields(reflect.TypeOf(cfg)) {
		keys[f.goName] = append(keys[f.goName], fieldKey{key: f.key, typ: f.typ})
	}
	msgs := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		switch {
		case errors.As(e, &pe):
			msgs = append(msgs, fmt.Sprintf("%s: %v", keyFor(keys[pe.Name], pe, environ), unwrapParse(pe.Err)))
		default:
			msgs = append(msgs, e.Error())
		}
	}
	return fmt.Errorf("configuration: %s", strings.Join(msgs, "; "))
}

// unwrapParse strips strconv's "strconv.ParseInt: parsing ..." prefix down to something an
// operator reads at a glance, keeping the cause.
func unwrapParse(err error) string {
	var ne interface{ Unwrap() error }
	msg := err.Error()
	if errors.As(err, &ne) && strings.HasPrefix(msg, "strconv.") {
		if i := strings.Index(msg, ": "); i >= 0 {
			return "invalid value: " + msg[i+2:]
		}
	}
	return msg
}

// fieldKey is one candidate variable of a Go field name.
type fieldKey struct {
	key string
	typ reflect.Type
}

// keyFor picks the variable a parse error is about. caarlos0/env reports only the Go
// field name, and nested sections repeat names (Common.Port is NOETL_PORT, pg.Config.Port
// is POSTGRES_PORT), so candidates are narrowed by field type, then by which variable is
// actually set (an unset variable cannot fail to parse unless it has a default).
func keyFor(cands []fieldKey, pe env.ParseError, environ map[string]string) string {
	if len(cands) > 1 {
		cands = filterKeys(cands, func(k fieldKey) bool { return k.typ == pe.Type })
	}
	if len(cands) > 1 {
		cands = filterKeys(cands, func(k fieldKey) bool {
			var v string
			if environ != nil {
				v = environ[k.key]
			} else {
				v = os.Getenv(k.key)
			}
			return v != ""
		})
	}
	if len(cands) == 0 {
		return pe.Name
	}
	names := make([]string, len(cands))
	for i, k := range cands {
		names[i] = k.key
	}
	return strings.Join(names, " or ")
}

func filterKeys(in []fieldKey, keep func(fieldKey) bool) []fieldKey {
	var out []fieldKey
	for _, k := range in {
		if keep(k) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return in // nothing matched: keep every candidate rather than guess
	}
	return out
}
