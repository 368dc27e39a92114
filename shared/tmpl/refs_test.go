package tmpl

import "reflect"
import "sort"
import "strings"
import "testing"

// describeRefs writes refs as "name" (whole) or "name.attr" entries, sorted.
func describeRefs(rs Refs) string {
	var out []string
	for name, r := range rs {
		if r.Whole {
			out = append(out, name)
		}
		for a := range r.Attrs {
			out = append(out, name+"."+a)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestRefs(t *testing.T) {
	t.Parallel()
	r := New(0)
	cases := []struct {
		text, want string
	}{
		{"plain text", ""},
		{"{{ a }}", "a"},
		{"{{ a.b.c }}", "a.b"},
		{"{{ ctx.i + 1 }}", "ctx.i"},
		{"{{ ctx['i'] }} {{ ctx.j }}", "ctx.i ctx.j"},
		{"{{ ctx[k] }}", "ctx k"},
		{"{{ ctx.items() }}", "ctx"},
		{"{{ ctx | tojson }}", "ctx"},
		{"{{ steps.fetch.context }}", "steps.fetch"},
		{"{{ x | default(y.z) }}", "x y.z"},
		{"{% for i in items %}{{ i.name }}{{ loop.index }}{% endfor %}", "items"},
		{"{% set n = a.b %}{{ n }}", "a.b"},
		{"{{ (a).b }}", "a"},
		{"{{ f(a.b) }}", "a.b f"},
		{"{{ a.0 }}", "a"},
		{"{{ range(3) | list }}", "range"},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			t.Parallel()
			refs, err := r.TextRefs(c.text)
			if err != nil {
				t.Fatal(err)
			}
			if got := describeRefs(refs); got != c.want {
				t.Fatalf("refs of %q = %q, want %q", c.text, got, c.want)
			}
		})
	}
}

func TestConditionAndValueRefs(t *testing.T) {
	t.Parallel()
	r := New(0)
	cond, err := r.ConditionRefs("status == 'ok' and ctx.n < 3")
	if err != nil {
		t.Fatal(err)
	}
	if got := describeRefs(cond); got != "ctx.n status" {
		t.Fatalf("bare condition refs = %q", got)
	}
	if _, err := r.ConditionRefs("a +* b"); err == nil {
		t.Fatal("a broken condition must report its syntax error")
	}
	rs := Refs{}
	v := map[string]any{"url": "{{ base }}/x", "{{ key }}": []any{"{{ a.b }}", int64(3), true}}
	if err := r.ValueRefs(v, rs); err != nil {
		t.Fatal(err)
	}
	if got := describeRefs(rs); got != "a.b base key" {
		t.Fatalf("value refs = %q", got)
	}
}

// A context holding only what Refs names renders every template exactly as the full
// context does.
func TestRefsAreEnoughToRender(t *testing.T) {
	t.Parallel()
	r := New(0)
	full := testVars()
	full["ctx"] = map[string]any{"i": int64(2), "other": "x"}
	for _, text := range []string{"{{ n + 1 }}", "{{ ctx.i * n }}", "{{ lst | sum }}", "{{ missing | default(n) }}"} {
		refs, err := r.TextRefs(text)
		if err != nil {
			t.Fatal(err)
		}
		part := map[string]any{}
		for name, ref := range refs {
			v, ok := full[name]
			if !ok {
				continue
			}
			if m, isMap := v.(map[string]any); isMap && !ref.Whole {
				sub := map[string]any{}
				for a := range ref.Attrs {
					if av, ok := m[a]; ok {
						sub[a] = av
					}
				}
				v = sub
			}
			part[name] = v
		}
		want, err := r.RenderText(text, full)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.RenderText(text, part)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %v against the referenced part, %v against the whole", text, got, want)
		}
	}
}
