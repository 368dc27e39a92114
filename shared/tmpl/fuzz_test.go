package tmpl

import "testing"

// FuzzRender: no template text, however broken, panics the compiler or the renderer.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"{{ a }}", "{{ a.b.c | default(1) }}", "{% for x in lst %}{{ loop.index }}{% endfor %}",
		"{% if a %}x{% elif b %}y{% else %}z{% endif %}", "{{ '%s' | format(a) }}", "{{ lst[1:-1:2] }}",
		"{{ {'a': [1, 2.5, none]} | tojson }}", "{% set ns = namespace(c=0) %}{% set ns.c = ns.c + 1 %}{{ ns.c }}",
		"{% raw %}{{ x }}{% endraw %}", "{{- a -}} {#- c -#}", "{{ 2 ** 64 }}", "{{ a is divisibleby 0 }}",
		"{{ 'a' * 3 }}", "{{ lst | map(attribute='x') | sort | unique | join }}", "{{ x if y else z }}",
		"{{ '{}'.format(1) }}", "{{ s.split()[0] }}", "{{ 'aGk=' | b64decode }}", "{{ '[1]' | fromjson }}",
		"{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775808 // -1 }}", "{{ range(1, 10, 3) }}",
		"{{ '{0[k]!r:*^+#010,.3x}'.format(m, a) }}", "{{ '{:,.2%}'.format(2.5) }}", "{{ lst | groupby('x') }}",
		"{{ lst | slice(2, 0) }}", "{{ s | lines }}", "{{ s | wordwrap(3, false, '|') }}", "{{ s | urlize(5) }}",
		"{{ m | xmlattr }}", "{{ lst | random }}", "{{ s.rsplit(none, 1) }}", "{{ s.find('b', -9, 9) }}",
		"{{ s.startswith(('a', 'b'), 1, -1) }}", "{{ s.center(9, '*') ~ s.zfill(a) }}", "{{ lst.index(1, -2) }}",
		"{{ 'a\\tb'.expandtabs(3).splitlines(true) }}", "{{ 'ΑΣ ß'.swapcase().casefold() }}", "{{ m.copy().get('k', 1) }}",
	} {
		f.Add(s)
	}
	vars := map[string]any{
		"a": int64(1), "b": nil, "s": "a b", "lst": []any{int64(1), "x", map[string]any{"x": 2.5}},
		"m": map[string]any{"k": []any{}}, "y": true,
	}
	r := New(64)
	f.Fuzz(func(t *testing.T, src string) {
		_, _ = r.RenderString(src, vars)
		_, _ = r.RenderText(src, vars)
		_, _ = r.EvalCondition(src, vars)
		_, _ = r.Eval(src, vars)
	})
}
