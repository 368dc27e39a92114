package tmpl

import "testing"

// Names follow Python 3's identifiers, as Jinja2's do: a letter (any script) or `_`,
// then letters, digits, combining marks and connector punctuation. So a workload key or
// a step named in another language is read like any other, and Refs reports it (the
// engine binds only what Refs names). A character that is no letter still is an error.
func TestUnicodeNames(t *testing.T) {
	t.Parallel()
	vars := map[string]any{
		"données": "d",
		"名前":      "n",
		"x١":      int64(1), // ARABIC-INDIC DIGIT ONE continues a name
		"café":    int64(2), // é as e + COMBINING ACUTE ACCENT
		"steps":   map[string]any{"étape": map[string]any{"x": int64(7)}},
		"étape":   map[string]any{"x": int64(7)},
		"ctx":     map[string]any{"über": "u"},
	}
	cases := []struct{ in, want, refs string }{
		{"{{ données }}", "d", "données"},
		{"{{ 名前 }}-{{ données | upper }}", "n-D", "données 名前"},
		{"{{ steps.étape.x + 1 }}", "8", "steps.étape"},
		{"{{ étape.x }}", "7", "étape.x"},
		{"{{ ctx.über }}", "u", "ctx.über"},
		{"{{ x١ + café }}", "3", "café x١"},
		{"{% set résumé = 'r' %}{{ résumé }}", "r", ""},
		{"{% for clé in ['a', 'b'] %}{{ clé }}{% endfor %}", "ab", ""},
	}
	r := New(0)
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := r.RenderString(c.in, vars)
			if err != nil || got != c.want {
				t.Fatalf("RenderString = %q, %v; want %q", got, err, c.want)
			}
			refs, err := r.TextRefs(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if g := describeRefs(refs); g != c.refs {
				t.Errorf("refs = %q, want %q", g, c.refs)
			}
		})
	}
	for _, bad := range []string{"{{ a→b }}", "{{ €x }}", "{{ ١x }}"} {
		t.Run(bad, func(t *testing.T) {
			t.Parallel()
			if _, err := r.RenderString(bad, vars); err == nil {
				t.Fatalf("%s rendered without an error", bad)
			}
		})
	}
}
