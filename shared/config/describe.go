package config

import (
	"reflect"
	"strings"
)

// Var is one environment variable a config struct reads.
type Var struct {
	Name    string
	Default string
}

// Vars lists the environment variables a config struct reads (nested structs included),
// in field order. The README and deployment files are checked against it.
func Vars(cfg any) []Var {
	var out []Var
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
				out = append(out, Var{Name: prefix + key, Default: f.Tag.Get("envDefault")})
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
	walk(reflect.TypeOf(cfg), "")
	return out
}
