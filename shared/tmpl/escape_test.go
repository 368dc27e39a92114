package tmpl

import "reflect"
import "testing"

// TestEscapeRendersBack: whatever a string holds, the worker's render of its escaped form
// gives it back exactly.
func TestEscapeRendersBack(t *testing.T) {
	r := New(16)
	vars := map[string]any{"keychain": map[string]any{"tok": map[string]any{"v": "S3CRET"}}}
	for _, s := range []string{
		"plain", "{{ keychain.tok.v }}", "a {{ keychain.tok.v }} b", "{% if true %}x{% endif %}",
		"{# c #}{{ x }}", "{{{{ x }}}}", "{{- x -}}", "{{ '{{' }}", "{% raw %}{{ x }}{% endraw %}",
		"}} {{", "{{", "x }}", "'{{\" y }}", "{% endraw %}{{ x }}",
	} {
		t.Run(s, func(t *testing.T) {
			got, err := r.RenderValueOpts(Escape(s), vars, Options{KeepPlain: true})
			if err != nil {
				t.Fatalf("render %q: %v", Escape(s), err)
			}
			if got != s {
				t.Fatalf("escaped %q rendered to %q, want %q", Escape(s), got, s)
			}
		})
	}
}

// TestEscapeOutputStopsSecondRender: a value the server renders from data that looks like
// a template reaches the worker's render as that text, not as a template reading the
// keychain.
func TestEscapeOutputStopsSecondRender(t *testing.T) {
	r := New(16)
	data := map[string]any{
		"note":  "{{ keychain.tok.v }}",
		"nest":  map[string]any{"k": []any{"{{ keychain.tok.v | lower }}"}, "{{ keychain.tok.v }}": "key"},
		"plain": "ok",
	}
	cfg := map[string]any{
		"url":        "http://x/?q={{ note }}",
		"whole":      "{{ nest }}",
		"kc":         "{{ keychain.tok.v }}",
		"plain":      "{{ plain }}",
		"{{ note }}": "key from data",
	}
	server, err := r.RenderValueOpts(cfg, data, Options{DeferRoots: []string{"keychain"}, DeferUnresolved: true, EscapeOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	worker, err := r.RenderValueOpts(server, map[string]any{"keychain": map[string]any{"tok": map[string]any{"v": "S3CRET"}}}, Options{KeepPlain: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"url":                  "http://x/?q={{ keychain.tok.v }}",
		"whole":                map[string]any{"k": []any{"{{ keychain.tok.v | lower }}"}, "{{ keychain.tok.v }}": "key"},
		"kc":                   "S3CRET", // the playbook's own reference still renders on the worker
		"plain":                "ok",
		"{{ keychain.tok.v }}": "key from data",
	}
	if !reflect.DeepEqual(worker, want) {
		t.Fatalf("worker rendered %#v, want %#v", worker, want)
	}
}
