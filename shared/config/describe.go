package config

import "reflect"
import "strings"

// Var is one environment variable a config struct reads.
type Var struct {
	Name    string
	Default string
}

// Vars lists the environment variables a config struct reads (nested structs included),
// in field order. The README and deployment files are checked against it.
func Vars(cfg any) []Var {
	var out []Var
	for _, f := range fields(reflect.TypeOf(cfg)) {
		out = append(out, Var{Name: f.key, Default: f.def})
	}
	return out
}

// field is one env-tagged field of a config struct.
type field struct {
	goName string       // the Go field name, which caarlos0/env's errors quote
	key    string       // the variable, section prefixes applied
	def    string       // envDefault
	typ    reflect.Type // the field's type
}

// fields walks a config struct's env-tagged fields in order, descending into untagged
// struct fields with their envPrefix. It is the one reflection walk over config structs:
// error messages (which variable failed) and the documentation checks (Vars) both read it.
func fields(t reflect.Type) []field {
	var out []field
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
			if tag == "-" {
				continue
			}
			if key := strings.Split(tag, ",")[0]; key != "" {
				out = append(out, field{goName: f.Name, key: prefix + key, def: f.Tag.Get("envDefault"), typ: f.Type})
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft.PkgPath() != "time" {
				walk(ft, prefix+f.Tag.Get("envPrefix"))
			}
		}
	}
	walk(t, "")
	return out
}
