package tmpl

import "errors"
import "strings"
import "testing"

// groupby, slice, lines, filesizeformat, striptags and forceescape follow Jinja2 (lines:
// minijinja); playbooks using them used to fail with "unknown filter". Expected values
// are what Jinja2 renders (Jinja2's tuples print here as lists, and true as true).
func TestGroupingFilters(t *testing.T) {
	t.Parallel()
	const people = "[{'n': 'ann', 'city': 'Oslo'}, {'n': 'bob', 'city': 'Rome'}, {'n': 'cy', 'city': 'oslo'}, {'n': 'di'}]"
	renderCases(t, []struct{ in, want string }{
		// groupby: (grouper, list) pairs, sorted by grouper
		{"{% for g in " + people + "[:3] | groupby('city') %}{{ g.grouper }}:{{ g.list | map(attribute='n') | join(',') }};{% endfor %}",
			"Oslo:ann,cy;Rome:bob;"},
		{"{% for city, xs in " + people + "[:3] | groupby('city', case_sensitive=true) %}{{ city }}={{ xs | length }};{% endfor %}",
			"Oslo=1;Rome=1;oslo=1;"},
		{"{% for city, xs in " + people + " | groupby('city', default='?') %}{{ city }}={{ xs | length }};{% endfor %}",
			"?=1;Oslo=2;Rome=1;"},
		{"{% for g in " + people + " | groupby(attribute='city', default='?') %}{{ g[0] }}{% endfor %}", "?OsloRome"},
		{"{{ users | groupby('admin') }}",
			`[[false, [{"admin": false, "age": 25, "name": "bob"}]], [true, [{"admin": true, "age": 31, "name": "ann"}]]]`},
		{"{{ [[1, 'a'], [2, 'b'], [1, 'c']] | groupby(0) | map(attribute='list') | list | length }}", "2"},
		{"{{ [{'a': {'b': 2}}, {'a': {'b': 1}}] | groupby('a.b') | map(attribute='grouper') | join(',') }}", "1,2"},
		{"{{ (users | groupby('admin'))[1].list[0].name }}", "ann"},
		{"{{ (users | groupby('admin'))[0] | tojson }}", `[false,[{"admin":false,"age":25,"name":"bob"}]]`},
		{"{{ [] | groupby('x') }}", "[]"},
		// only groupby's pairs have .grouper and .list; other two-item lists and copies
		// of a pair are plain lists, as in Jinja2
		{"{{ (users | groupby('admin') | first).grouper }}", "false"},
		{"{{ (users | groupby('admin') | last).list | map(attribute='name') | join }}", "ann"},
		{"{{ users | groupby('admin') | map(attribute='grouper') | join(',') }}", "false,true"},
		{"{% set g = (users | groupby('admin'))[1] %}{{ g[0] }} {{ g.grouper }} {{ g | length }}", "true true 2"},
		{"[{{ [[1, 2]][0].grouper }}{{ [1, 2].list }}]", "[]"},
		{"[{{ (m | dictsort)[0].grouper }}{{ (m | items | list)[0].list }}]", "[]"},
		{"[{{ ((users | groupby('admin'))[0] | list).grouper }}]", "[]"},
		{"[{{ (users | groupby('admin'))[1][:2].grouper }}]", "[]"},
		// slice: that many columns, the first len % n one longer
		{"{{ [1, 2, 3, 4, 5, 6, 7] | slice(3) }}", "[[1, 2, 3], [4, 5], [6, 7]]"},
		{"{{ [1, 2, 3, 4, 5, 6, 7] | slice(3, 0) }}", "[[1, 2, 3], [4, 5, 0], [6, 7, 0]]"},
		{"{{ [1, 2, 3, 4, 5, 6] | slice(3, fill_with='x') }}", `[[1, 2, "x"], [3, 4, "x"], [5, 6, "x"]]`},
		{"{{ [1, 2] | slice(4) }}", "[[1], [2], [], []]"},
		{"{% for col in 'abcde' | slice(2) %}{{ col | join }}|{% endfor %}", "abc|de|"},
		// lines
		{"{{ 'a\\nb\\r\\nc\\n' | lines }}", `["a", "b", "c"]`},
		{"{{ 'a\\n\\nb' | lines | length }}", "3"},
		{"{{ '' | lines }}", "[]"},
		{"{{ '\\n' | lines }}", `[""]`},
		{"{{ missing | lines }}", "[]"},
		// filesizeformat
		{"{{ 1 | filesizeformat }}", "1 Byte"},
		{"{{ 999 | filesizeformat }}", "999 Bytes"},
		{"{{ 1500 | filesizeformat }}", "1.5 kB"},
		{"{{ 1500000 | filesizeformat }}", "1.5 MB"},
		{"{{ 2048 | filesizeformat(true) }}", "2.0 KiB"},
		{"{{ '3000' | filesizeformat(binary=false) }}", "3.0 kB"},
		// striptags, forceescape
		{"{{ '<p>Hello  <b>World</b><!-- x -->\\n &amp; more</p>' | striptags }}", "Hello World & more"},
		{"{{ '<a>' | forceescape }}", "&lt;a&gt;"},
	})
}

// groupby over items without the attribute, and no default, is an error naming the
// item and the way out; it used to group them silently under an empty grouper.
func TestGroupbyMissingAttribute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{"{{ [{'city': 'Oslo'}, {'n': 'di'}] | groupby('city') }}", "filter groupby: item 1 (from 0) has no attribute 'city'; groupby('city', default=...) groups such items"},
		{"{{ [{'a': {'b': 1}}, {'a': {}}] | groupby('a.b') }}", "item 1 (from 0) has no attribute 'a.b'"},
		{"{{ [[1, 2], [3]] | groupby(1) }}", "item 1 (from 0) has no attribute 1;"},
		{"{{ users | groupby('citty') }}", "item 0 (from 0) has no attribute 'citty'"},
	} {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			_, err := New(0).RenderString(tc.src, testVars())
			var te *Error
			if err == nil || !errors.As(err, &te) || te.Kind != "render" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a render error with %q", err, tc.want)
			}
		})
	}
}

func TestGroupingFilterErrors(t *testing.T) {
	t.Parallel()
	renderErrorCases(t, []string{
		"{{ users | groupby }}",
		"{{ 5 | groupby('a') }}",
		"{{ lst | slice(0) }}",
		"{{ lst | slice('2') }}",
		"{{ 5 | lines }}",
		"{{ 'x' | filesizeformat }}",
	})
}
