// Package config loads environment variables into typed structs with caarlos0/env and
// turns every failure into an error that names the variable, so a misconfigured binary
// stops at startup instead of silently running on defaults (the upstream server fell
// back to defaults for the whole struct when a single value failed to parse).
package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Load parses the process environment into cfg (a pointer to a struct). Fields already set
// on cfg keep their value when the variable is unset and the field has no envDefault, which
// is how each binary gives NOETL_PORT its own default.
func Load(cfg any) error {
	return LoadFrom(cfg, nil)
}

// LoadFrom is Load with an explicit environment (nil means the process environment). Tests
// use it to avoid mutating the process environment.
func LoadFrom(cfg any, environ map[string]string) error {
	opts := env.Options{Environment: environ}
	if err := env.ParseWithOptions(cfg, opts); err != nil {
		return namedError(cfg, err)
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

// namedError rewrites caarlos0/env errors, which name Go fields, into messages that name
// the environment variable an operator has to fix.
func namedError(cfg any, err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	keys := fieldKeys(reflect.TypeOf(cfg))
	msgs := make([]string, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		switch {
		case errors.As(e, &pe):
			key := keys[pe.Name]
			if key == "" {
				key = pe.Name
			}
			msgs = append(msgs, fmt.Sprintf("%s: %v", key, unwrapParse(pe.Err)))
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

// fieldKeys maps Go field names to their env keys, walking nested structs.
func fieldKeys(t reflect.Type) map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("env")
			key := strings.Split(tag, ",")[0]
			if key != "" {
				out[f.Name] = prefix + key
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, prefix+f.Tag.Get("envPrefix"))
			}
		}
	}
	walk(t, "")
	return out
}
