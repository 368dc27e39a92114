package tmpl

import "errors"
import "reflect"
import "strings"
import "testing"

func testVars() map[string]any {
	return map[string]any{
		"n":     int64(5),
		"f":     2.5,
		"s":     "Hello World",
		"empty": "",
		"t":     true,
		"null":  nil,
		"lst":   []any{int64(3), int64(1), int64(2)},
		"words": []any{"b", "A", "c", "a"},
		"m":     map[string]any{"a": map[string]any{"b": int64(2)}, "z": "last"},
		"users": []any{
			map[string]any{"name": "ann", "age": int64(31), "admin": true},
			map[string]any{"name": "bob", "age": int64(25), "admin": false},
		},
		"big":     int64(3900000000000000123),
		"goint":   7, // a Go int from a caller that did not normalize
		"jsontxt": `{"k": [1, 2]}`,
	}
}

func renderT(t *testing.T, src string) string {
	t.Helper()
	out, err := New(0).RenderString(src, testVars())
	if err != nil {
		t.Fatalf("RenderString(%q): %v", src, err)
	}
	return out
}

// renderCases renders each case's template in a parallel subtest and wants its text.
func renderCases(t *testing.T, cases []struct{ in, want string }) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			if got := renderT(t, c.in); got != c.want {
				t.Fatalf("got %q want %q", got, c.want)
			}
		})
	}
}

// renderErrorCases renders each template in a parallel subtest and wants a render error.
func renderErrorCases(t *testing.T, srcs []string) {
	t.Helper()
	for _, src := range srcs {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			_, err := New(0).RenderString(src, testVars())
			var te *Error
			if err == nil || !errors.As(err, &te) || te.Kind != "render" {
				t.Fatalf("error %v, want a render error", err)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		// default
		{"{{ missing | default('x') }}", "x"},
		{"{{ null | default('x') }}", "x"},
		{"{{ missing.a.b | default(7) }}", "7"},
		{"{{ empty | default('x') }}", ""},
		{"{{ empty | default('x', true) }}", "x"},
		{"{{ n | d(1) }}", "5"},
		{"{{ missing | default }}", ""},
		// tojson / fromjson
		{"{{ m | tojson }}", `{"a":{"b":2},"z":"last"}`},
		{"{{ s | tojson }}", `"Hello World"`},
		{"{{ missing | tojson }}", `null`},
		{"{{ [1, 2.5, none, true] | tojson }}", `[1,2.5,null,true]`},
		{"{{ big | tojson }}", `3900000000000000123`},
		{"{{ {'a': 1} | tojson(indent=2) }}", "{\n  \"a\": 1\n}"},
		{"{{ {'b': {}, 'a': [1, [], {'c': [2]}]} | tojson }}", `{"a":[1,[],{"c":[2]}],"b":{}}`},
		{"{{ {'b': {}, 'a': [1, [], {'c': [2]}]} | tojson(indent=2) }}", "{\n  \"a\": [\n    1,\n    [],\n    {\n      \"c\": [\n        2\n      ]\n    }\n  ],\n  \"b\": {}\n}"},
		{"{{ (jsontxt | fromjson).k[1] }}", "2"},
		{"{{ '3900000000000000123' | fromjson + 1 }}", "3900000000000000124"},
		// int / float
		{"{{ '42' | int + 1 }}", "43"},
		{"{{ '3900000000000000123' | int }}", "3900000000000000123"},
		{"{{ '4.7' | int }}", "4"},
		{"{{ 4.7 | int }}", "4"},
		{"{{ 'abc' | int }}", "0"},
		{"{{ 'abc' | int(9) }}", "9"},
		{"{{ missing | int }}", "0"},
		{"{{ true | int }}", "1"},
		{"{{ '2.5' | float }}", "2.5"},
		{"{{ 3 | float }}", "3.0"},
		{"{{ 'x' | float }}", "0.0"},
		// base64
		{"{{ 'noetl:secret' | b64encode }}", "bm9ldGw6c2VjcmV0"},
		{"{{ 'bm9ldGw6c2VjcmV0' | b64decode }}", "noetl:secret"},
		{"{{ 'aGk' | b64decode }}", "hi"},
		// strings
		{"{{ s | lower }}", "hello world"},
		{"{{ s | upper }}", "HELLO WORLD"},
		{"{{ '  pad ' | trim }}", "pad"},
		{"{{ 'xxpadxx' | trim('x') }}", "pad"},
		{"{{ s | replace('World', 'NoETL') }}", "Hello NoETL"},
		{"{{ 'aaa' | replace('a', 'b', 2) }}", "bba"},
		{"{{ 'hello world' | capitalize }}", "Hello world"},
		{"{{ 'hello world' | title }}", "Hello World"},
		{"{{ n | string ~ '!' }}", "5!"},
		{"{{ 'a b  c' | split | join(',') }}", "a,b,c"},
		{"{{ 'a,b,c' | split(',') | last }}", "c"},
		{"{{ 'a,b,c' | split(',', 1) | length }}", "2"},
		{"{{ '<b>' | escape }}", "&lt;b&gt;"},
		{"{{ '<b>' | safe }}", "<b>"},
		{"{{ 'a b' | urlencode }}", "a%20b"},
		// Jinja2's quote(s, safe="/"): a value with "&", "=" or "+" stays one query value.
		{"{{ 'a&b=c d/é+' | urlencode }}", "a%26b%3Dc%20d/%C3%A9%2B"},
		{"{{ 'x~y' | urlencode }}", "x~y"},
		{"{{ {'q': 'a b', 'n': 1} | urlencode }}", "n=1&q=a+b"},
		{"{{ 'line1\nline2' | indent(2) }}", "line1\n  line2"},
		{"{{ '%s=%d' | format('x', 3) }}", "x=3"},
		// Jinja2's truncate: leeway 5, cut back to a word unless killwords.
		{"{{ 'abcdefghij' | truncate(6) }}", "abcdefghij"},
		{"{{ 'abcdefghijklm' | truncate(6) }}", "abc..."},
		{"{{ 'hello world foobar' | truncate(10) }}", "hello..."},
		{"{{ 'hello world foobar' | truncate(10, true) }}", "hello w..."},
		{"{{ 'hello world foobar' | truncate(10, false, '..', 0) }}", "hello.."},
		{"{{ 'hello world foobar' | truncate(length=10, leeway=0, end='!') }}", "hello!"},
		{"{{ 'one two three' | wordcount }}", "3"},
		// length and sequences
		{"{{ s | length }}", "11"},
		{"{{ 'héllo' | length }}", "5"},
		{"{{ lst | length }}", "3"},
		{"{{ m | length }}", "2"},
		{"{{ missing | length }}", "0"},
		{"{{ lst | count }}", "3"},
		{"{{ lst | join }}", "312"},
		{"{{ lst | join(', ') }}", "3, 1, 2"},
		{"{{ users | join(',', attribute='name') }}", "ann,bob"},
		{"{{ lst | first }}", "3"},
		{"{{ lst | last }}", "2"},
		{"{{ s | first }}", "H"},
		{"{{ [] | first | default('none') }}", "none"},
		{"{{ lst | sort | join }}", "123"},
		{"{{ lst | sort(reverse=true) | join }}", "321"},
		{"{{ words | sort | join }}", "Aabc"},
		{"{{ words | sort(case_sensitive=true) | join }}", "Aabc"},
		{"{{ users | sort(attribute='age') | map(attribute='name') | join }}", "bobann"},
		{"{{ [1, 2, 1, 3] | unique | join }}", "123"},
		{"{{ lst | reverse | join }}", "213"},
		{"{{ 'abc' | reverse }}", "cba"},
		{"{{ lst | min }}", "1"},
		{"{{ lst | max }}", "3"},
		{"{{ users | max(attribute='age') | attr('name') }}", "ann"},
		{"{{ lst | sum }}", "6"},
		{"{{ users | sum(attribute='age') }}", "56"},
		{"{{ [0.5, 1] | sum }}", "1.5"},
		{"{{ 'ab' | list | join('-') }}", "a-b"},
		{"{{ lst | map('string') | map('int') | sum }}", "6"},
		{"{{ users | map(attribute='missing', default='?') | join }}", "??"},
		{"{{ lst | select('odd') | join }}", "31"},
		{"{{ lst | reject('odd') | join }}", "2"},
		{"{{ [0, 1, '', 'x'] | select | length }}", "2"},
		{"{{ users | selectattr('admin') | map(attribute='name') | join }}", "ann"},
		{"{{ users | rejectattr('admin') | map(attribute='name') | join }}", "bob"},
		{"{{ users | selectattr('age', 'gt', 30) | map(attribute='name') | join }}", "ann"},
		{"{{ [1,2,3,4,5] | batch(2) | tojson }}", "[[1,2],[3,4],[5]]"},
		// maps
		{"{{ m | keys | join(',') }}", "a,z"},
		{"{{ {'b': 1, 'a': 2} | values | join(',') }}", "2,1"},
		{"{{ {'b': 1, 'a': 2} | items | tojson }}", `[["a",2],["b",1]]`},
		{"{{ {'b': 1, 'a': 2} | dictsort | tojson }}", `[["a",2],["b",1]]`},
		{"{{ {'b': 1, 'a': 2} | dictsort(by='value') | first | first }}", "b"},
		{"{{ m | get('z') }}", "last"},
		{"{{ m | get('nope', 'dflt') }}", "dflt"},
		{"{{ missing | keys | length }}", "0"},
		// numbers
		{"{{ 2.567 | round(2) }}", "2.57"},
		{"{{ 2.5 | round }}", "3.0"},
		{"{{ 2.1 | round(method='ceil') }}", "3.0"},
		{"{{ -3 | abs }}", "3"},
		{"{{ -2.5 | abs }}", "2.5"},
		{"{{ 'yes' | bool }}", "true"},
	}
	renderCases(t, cases)
}

func TestFilterErrors(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		"{{ 'not base64!' | b64decode }}",
		"{{ '/w==' | b64decode }}", // decodes to invalid UTF-8
		"{{ 'nope' | fromjson }}",
		"{{ 5 | join }}",
		"{{ 5 | first }}",
		"{{ 5 | length }}",
		"{{ 5 | keys }}",
		"{{ 'a' | round }}",
		"{{ lst | batch(0) }}",
		"{{ lst | map }}",
		"{{ lst | map('nofilter') }}",
		"{{ lst | select('notest') }}",
	} {
		if _, err := New(0).RenderString(src, testVars()); err == nil {
			t.Errorf("%s: expected an error", src)
		} else if te := (*Error)(nil); !errors.As(err, &te) || te.Kind != "render" {
			t.Errorf("%s: want a render error, got %v", src, err)
		}
	}
}

func TestTests(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want bool
	}{
		{"n is defined", true},
		{"missing is defined", false},
		{"missing.x is defined", false},
		{"null is defined", false}, // null in the context behaves as undefined
		{"missing is undefined", true},
		{"n is not undefined", true},
		{"null is none", true},
		{"missing is none", false},
		{"s is string", true},
		{"n is string", false},
		{"n is number", true},
		{"f is number", true},
		{"t is number", false},
		{"n is integer", true},
		{"f is float", true},
		{"t is boolean", true},
		{"t is true", true},
		{"t is false", false},
		{"lst is sequence", true},
		{"s is sequence", false},
		{"m is mapping", true},
		{"lst is mapping", false},
		{"s is iterable", true},
		{"n is iterable", false},
		{"range is callable", true},
		{"n is odd", true},
		{"n is even", false},
		{"n is divisibleby 5", true},
		{"n is divisibleby(2)", false},
		{"n is eq 5", true},
		{"n is equalto(5)", true},
		{"n is ne 5", false},
		{"n is gt 4", true},
		{"n is ge 5", true},
		{"n is lt 5", false},
		{"n is le 5", true},
		{"n is in [1, 5]", true},
		{"n is sameas 5", true},
		{"'abc' is lower", true},
		{"'ABC' is upper", true},
		{"s is startingwith 'Hello'", true},
		{"s is endingwith('World')", true},
		{"s is containing 'o W'", true},
		{"not missing is defined", true},
	}
	r := New(0)
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := r.Eval(c.in, testVars())
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %v want %v", got, c.want)
			}
		})
	}
}

func TestUndefinedChaining(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"[{{ missing }}]", "[]"},
		{"[{{ missing.a.b.c }}]", "[]"},
		{"[{{ missing['a'][0].b }}]", "[]"},
		{"[{{ n.a.b }}]", "[]"},
		{"[{{ null.a }}]", "[]"},
		{"[{{ lst[10].x }}]", "[]"},
		{"[{{ ctx.x | default('d') }}]", "[d]"},
		{"[{{ missing.a | default(missing.b) | default('z') }}]", "[z]"},
		{"[{% for x in missing.items %}{{ x }}{% else %}none{% endfor %}]", "[none]"},
		{"[{% if missing.a.b %}yes{% else %}no{% endif %}]", "[no]"},
		{"[{{ missing.a == none }}]", "[true]"},
		{"[{{ missing > 3 }}]", "[false]"},
		{"[{{ 'x' in missing }}]", "[false]"},
	}
	renderCases(t, cases)
	if _, err := New(0).RenderString("{{ missing + 1 }}", nil); err == nil {
		t.Error("arithmetic on undefined must fail")
	}
	if _, err := New(0).RenderString("{{ missing() }}", nil); err == nil {
		t.Error("calling undefined must fail")
	}
}

// A variable named like a global function (a playbook step called `range`, `dict` or
// `namespace`) is what a bare read gives, but a call still reaches the function: a
// step's result is never callable, and every later range(...) used to fail.
func TestVariableNamedLikeAGlobal(t *testing.T) {
	t.Parallel()
	vars := map[string]any{
		"range":     map[string]any{"status": "ok"},
		"dict":      []any{int64(1)},
		"namespace": "text",
		"data":      map[string]any{"n": "not a function"},
	}
	cases := []struct{ in, want string }{
		{"{{ range(3) | list }}", "[0, 1, 2]"},
		{"{{ range.status }}", "ok"},
		{"{{ dict(a=1) }}", `{"a": 1}`},
		{"{{ dict | length }}", "1"},
		{"{% set ns = namespace(c=2) %}{{ ns.c }} {{ namespace }}", "2 text"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := New(0).RenderString(c.in, vars)
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	// A variable that is not a global's name stays uncallable.
	if _, err := New(0).RenderString("{{ data.n() }}", vars); err == nil || !strings.Contains(err.Error(), "not callable") {
		t.Fatalf("calling a string: %v", err)
	}
}

func TestTextPrinting(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"{{ n > 3 }}", "true"},
		{"{{ n < 3 }}", "false"},
		{"{{ m }}", `{"a": {"b": 2}, "z": "last"}`},
		{"{{ lst }}", "[3, 1, 2]"},
		{"{{ [s, null, t] }}", `["Hello World", null, true]`},
		{"{{ null }}", ""},
		{"{{ none }}", ""},
		{"{{ 1.0 }}", "1.0"},
		{"{{ 10 / 4 }}", "2.5"},
		{"{{ 10 / 5 }}", "2.0"},
		{"{{ 1e20 }}", "1e+20"},
		{"{{ big }}", "3900000000000000123"},
		{"{{ goint + 1 }}", "8"},
		{"{{ 'tab\\there' }}", "tab\there"},
	}
	renderCases(t, cases)
}

func TestExpressions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want any
	}{
		{"1 + 2 * 3", int64(7)},
		{"(1 + 2) * 3", int64(9)},
		{"2 ** 10", int64(1024)},
		{"2 ** -1", 0.5},
		{"7 // 2", int64(3)},
		{"-7 // 2", int64(-4)},
		{"-7 % 3", int64(2)},
		{"7 / 2", 3.5},
		{"big + 1", int64(3900000000000000124)},
		{"big - 2 + 1", int64(3900000000000000122)},
		{"big * 1", int64(3900000000000000123)},
		{"9223372036854775807 + 1", 9223372036854775808.0}, // overflow goes to float, never wraps
		{"'a' ~ 1 ~ none", "a1"},
		{"'ab' * 2", "abab"},
		{"[1] + [2]", []any{int64(1), int64(2)}},
		{"'a' + 'b'", "ab"},
		{"1 == 1.0", true},
		{"1 < 2 < 3", true},
		{"3 > 2 > 2", false},
		{"'b' > 'a'", true},
		{"[1, 2] < [1, 3]", true},
		{"n > 3 and s", "Hello World"},
		{"missing or 'fallback'", "fallback"},
		{"not n", false},
		{"'x' if t else 'y'", "x"},
		{"'x' if not t", nil},
		{"m.a.b", int64(2)},
		{"m['a']['b']", int64(2)},
		{"lst[-1]", int64(2)},
		{"lst[1:]", []any{int64(1), int64(2)}},
		{"lst[::-1]", []any{int64(2), int64(1), int64(3)}},
		{"s[:5]", "Hello"},
		{"s[-5:]", "World"},
		{"(1, 2)", []any{int64(1), int64(2)}},
		{"{'k': n}", map[string]any{"k": int64(5)}},
		{"range(2, 8, 3)", []any{int64(2), int64(5)}},
		{"dict(a=1)", map[string]any{"a": int64(1)}},
		{"m.get('z')", "last"},
		{"m.get('nope', 3)", int64(3)},
		{"m.keys()", []any{"a", "z"}},
		{"s.split(' ')[1]", "World"},
		{"s.startswith('He')", true},
		{"s.lower().replace('l', 'L')", "heLLo worLd"},
		{"'  x '.strip()", "x"},
		{"', '.join(['a', 'b'])", "a, b"},
		{"'a' 'b'", "ab"},
		{"1_000 + 0.5", 1000.5},
		{"missing", nil},
		{"null", nil},
		{"true", true},
		{"True and False", false},
	}
	r := New(0)
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := r.Eval(c.in, testVars())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v want %#v", got, c.want)
			}
		})
	}
}

func TestStatements(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"{% if n > 10 %}a{% elif n > 3 %}b{% else %}c{% endif %}", "b"},
		{"{% for x in lst %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", "1:3,2:1,3:2"},
		{"{% for x in lst if x > 1 %}{{ x }}{% endfor %}", "32"},
		{"{% for k, v in m | dictsort %}{{ k }}{% endfor %}", "az"},
		{"{% for k in m %}{{ k }}{% endfor %}", "az"},
		{"{% for x in [] %}x{% else %}empty{% endfor %}", "empty"},
		{"{% for x in lst %}{{ loop.cycle('a', 'b') }}{% endfor %}", "aba"},
		{"{% set x = n * 2 %}{{ x }}", "10"},
		{"{% set x %}block {{ n }}{% endset %}{{ x }}", "block 5"},
		{"{% set ns = namespace(total=0) %}{% for u in users %}{% set ns.total = ns.total + u.age %}{% endfor %}{{ ns.total }}", "56"},
		{"a {# comment #}b{{ '' }}", "a b"},
		{"a  {#- comment -#}  b{{ '' }}", "ab"},
		{"x\n  {%- if true -%}\n  y\n  {%- endif -%}\n  z", "xyz"},
		{"{{- '  a  ' -}}", "  a  "},
		{"p  {{- n -}}  q", "p5q"},
		{"{% raw %}{{ not rendered }}{% endraw %}", "{{ not rendered }}"},
		{"{{ '}}' }}", "}}"},
		{"{{ {'a': {'b': 1}}.a.b }}", "1"},
		{"line\n", "line\n"},   // plain text is returned unchanged
		{"{{ n }}\n", "5"},     // a template loses its single trailing newline, as in Jinja2
		{"{{ n }}\n\n", "5\n"}, // only one
		{"no tags {at} all}", "no tags {at} all}"},
	}
	renderCases(t, cases)
}

// TestNotATemplate: like upstream, only text with both {{ and }} (or {% and %}) is a
// template; shell and code fragments pass through untouched.
func TestNotATemplate(t *testing.T) {
	t.Parallel()
	r := New(0)
	for _, s := range []string{"echo ${#arr[@]}", "a {{ b", "x }} y", "{% only open", "{# c #}", "d = {'a': {'b': 1}}", ""} {
		got, err := r.RenderString(s, nil)
		if err != nil || got != s {
			t.Errorf("RenderString(%q) = %q, %v", s, got, err)
		}
	}
	if v, err := r.RenderText("{# c #}", nil); err != nil || v != "{# c #}" {
		t.Errorf("RenderText = %#v, %v", v, err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		line int
	}{
		{"{{ }}", 1},
		{"{{ a + }}", 1},
		{"{{ a }}\n{{ b", 2},
		{"{{ 'unterminated }}", 1},
		{"line1\n{% if x %}", 2},
		{"{% for x in %}{% endfor %}", 1},
		{"{% endif %}", 1},
		{"a\nb\n{{ x | nofilter }}", 3},
		{"{{ x is notatest }}", 1},
		{"{% macro m() %}{% endmacro %}", 1},
		{"{{ a b }}", 1},
		{"{{ (1 }}", 1},
		{"{# open {{ x }}", 1},
		{"{{ a ) }}", 1},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			_, err := New(0).RenderString(c.in, nil)
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("want *Error, got %v", err)
			}
			if te.Kind != "parse" || te.Line != c.line {
				t.Fatalf("got kind=%s line=%d (%v), want parse at line %d", te.Kind, te.Line, te, c.line)
			}
		})
	}
}

// TestRenderToValueTyping: upstream's render_to_value retyping of rendered text, and the
// typing rule of docs/engine.md ("Context, set and templates").
func TestRenderToValueTyping(t *testing.T) {
	t.Parallel()
	vars := testVars()
	vars["execution_id"] = "612345678901234567"
	cases := []struct {
		in   string
		want any
	}{
		// literal strings are retyped
		{"123", int64(123)},
		{" 123 ", int64(123)},
		{"-7", int64(-7)},
		{"3900000000000000123", int64(3900000000000000123)},
		{"1.5", 1.5},
		{"true", true},
		{"True", true},
		{"false", false},
		{"", nil},
		{"null", nil},
		{"None", nil},
		{`{"a": [1, 2]}`, map[string]any{"a": []any{int64(1), int64(2)}}},
		{`[1, "x"]`, []any{int64(1), "x"}},
		{"{not json}", "{not json}"},
		{"hello", "hello"},
		{" hello ", " hello "},
		{"0x10", "0x10"},
		{"inf", "inf"},
		// a whole expression keeps the expression's type
		{"{{ n }}", int64(5)},
		{"{{ big }}", int64(3900000000000000123)},
		{"{{ big + 1 }}", int64(3900000000000000124)},
		{"  {{ n }}  ", int64(5)},
		{"{{ m }}", map[string]any{"a": map[string]any{"b": int64(2)}, "z": "last"}},
		{"{{ lst }}", []any{int64(3), int64(1), int64(2)}},
		{"{{ n > 3 }}", true},
		{"{{ f }}", 2.5},
		{"{{ s }}", "Hello World"},
		{"{{ missing }}", nil},
		{"{{ missing.a.b }}", nil},
		{"{{ null }}", nil},
		{"{{ execution_id }}", "612345678901234567"}, // a string stays a string
		{"{{ '123' }}", "123"},
		{"{{ missing | default(0) }}", int64(0)},
		{"{{ null | default('d') }}", "d"},
		{"{{ ns }}", nil},
		{"{{ namespace(a=1) }}", map[string]any{"a": int64(1)}},
		// text templates are rendered, then retyped
		{"{{ n }}{{ n }}", int64(55)},
		{"id-{{ big }}", "id-3900000000000000123"},
		{"{{ n }} items", "5 items"},
		{`{"k": {{ n }}}`, map[string]any{"k": int64(5)}},
		{"{% if t %}true{% endif %}", true},
		{"{{ jsontxt }}", `{"k": [1, 2]}`},
	}
	r := New(0)
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := r.RenderText(c.in, vars)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v want %#v", got, c.want)
			}
		})
	}
}

func TestRenderValue(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"count":    "{{ n }}",
		"greeting": "hi {{ s }}",
		"nested":   []any{"{{ m.a }}", int64(1), true, nil, "42", map[string]any{"{{ 'k' ~ n }}": "{{ lst | length }}"}},
		"literal":  "plain",
	}
	got, err := New(0).RenderValue(in, testVars())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"count":    int64(5),
		"greeting": "hi Hello World",
		"nested":   []any{map[string]any{"b": int64(2)}, int64(1), true, nil, int64(42), map[string]any{"k5": int64(3)}},
		"literal":  "plain",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	if in["count"] != "{{ n }}" {
		t.Fatal("input was modified")
	}
	if _, err := New(0).RenderValue(map[string]any{"x": "{{ 1 +* }}"}, nil); err == nil {
		t.Fatal("syntax error in a leaf must fail")
	}
}

func TestRenderValueDeferral(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"a":   "{{ n }}",
		"b":   "{{ _prev.x }}",
		"c":   "{{ keychain.db.password }}",
		"d":   "{{ later.value }}",
		"e":   "{{ n }}-{{ _results.t.y }}",
		"f":   "{% for _prev in lst %}{{ _prev }}{% endfor %}", // a loop variable is not a reference
		"g":   "{{ missing | default(1) }}",                    // default resolves the missing value
		"h":   "{{ missing.x.y | d('z') }}",
		"i":   "{{ missing is defined }}",
		"j":   "{{ missing | default(other) }}",          // the default is missing too
		"k":   "{{ (missing | default({})).x }}",         // unresolved after the filter
		"l":   "{{ n | default(later.value) }}",          // the default is not used
		"o":   "{{ missing | default(later.value) }}",    // the default is used and missing
		"m":   "{{ (later.value ~ '') | default('x') }}", // the operand is defined: its miss stays
		"lit": "7",
	}
	got, err := New(0).RenderValueOpts(in, testVars(), Options{DeferRoots: []string{"_prev", "_results", "keychain"}, DeferUnresolved: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a": int64(5), "b": "{{ _prev.x }}", "c": "{{ keychain.db.password }}", "d": "{{ later.value }}",
		"e": "{{ n }}-{{ _results.t.y }}", "f": int64(312), "g": int64(1), "h": "z", "i": false,
		"j": "{{ missing | default(other) }}", "k": "{{ (missing | default({})).x }}",
		"l": int64(5), "o": "{{ missing | default(later.value) }}", "m": "{{ (later.value ~ '') | default('x') }}", "lit": int64(7),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

// KeepPlain renders the templates of an already-rendered value and leaves every plain
// string as it is: "123" stays the string a template produced.
func TestRenderValueKeepPlain(t *testing.T) {
	t.Parallel()
	in := map[string]any{"n": "{{ n }}", "digits": "123", "bool": "true", "nested": []any{"{{ s }}", "null", int64(4)}}
	got, err := New(0).RenderValueOpts(in, testVars(), Options{KeepPlain: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": int64(5), "digits": "123", "bool": "true", "nested": []any{"Hello World", "null", int64(4)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestEvalCondition(t *testing.T) {
	t.Parallel()
	vars := testVars()
	vars["status"] = "ok"
	vars["flag"] = "false"
	cases := []struct {
		in   string
		want bool
	}{
		{"", true},
		{"{{ n > 3 }}", true},
		{"{{ n > 30 }}", false},
		{"n > 3", true},
		{"status == 'ok'", true},
		{"status != 'ok'", false},
		{"{{ missing }}", false},
		{"{{ missing.a.b }}", false},
		{"{{ null }}", false},
		{"{{ 0 }}", false},
		{"{{ 2 }}", true},
		{"{{ lst }}", true},
		{"{{ [] }}", false},
		{"{{ {} }}", false},
		{"{{ flag }}", false}, // the string "false"
		{"{{ 'off' }}", false},
		{"{{ 'no' }}", false},
		{"{{ 'None' }}", false},
		{"{{ 'yes' }}", true},
		{"{{ s }}", true},
		{"true", true},
		{"false", false},
		{"{% if n > 3 %}true{% endif %}", true},
		{"{% if n > 30 %}true{% endif %}", false},
		{"{{ n }} > 3", true}, // text that is not falsy
		{"{{ risky.error | default('') != '' }}", false},
		{"{{ event.name == 'loop.done' }}", false},
	}
	r := New(0)
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := r.EvalCondition(c.in, vars)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("got %v want %v", got, c.want)
			}
		})
	}
	if _, err := r.EvalCondition("a ==", vars); err == nil {
		t.Fatal("a broken bare expression must fail")
	}
	if _, err := r.EvalCondition("{{ 1 + 'a' }}", vars); err == nil {
		t.Fatal("a render error must fail")
	}
}

func TestTruthy(t *testing.T) {
	t.Parallel()
	falsy := []any{nil, undefined, false, int64(0), 0.0, "", " ", "false", "FALSE", "0", "no", "none", "null", "off", "{}", "[]", []any{}, map[string]any{}, 0}
	truthyVals := []any{true, int64(1), int64(-1), 0.1, "x", "true", "yes", "1", []any{nil}, map[string]any{"a": nil}, 3}
	for _, v := range falsy {
		if Truthy(v) {
			t.Errorf("Truthy(%#v) = true", v)
		}
	}
	for _, v := range truthyVals {
		if !Truthy(v) {
			t.Errorf("Truthy(%#v) = false", v)
		}
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	r := New(3)
	for i := 0; i < 10; i++ {
		if _, err := r.RenderString("{{ n }}"+strings.Repeat(" ", i), map[string]any{"n": 1}); err != nil {
			t.Fatal(err)
		}
	}
	if r.CacheLen() != 3 {
		t.Fatalf("cache holds %d, want 3", r.CacheLen())
	}
	a, _ := r.Template("{{ x }}")
	b, _ := r.Template("{{ x }}")
	if a != b {
		t.Fatal("the same text compiled twice")
	}
	_, e1 := r.Template("{{ x +")
	_, e2 := r.Template("{{ x +")
	if e1 == nil || e1 != e2 {
		t.Fatal("syntax errors are cached")
	}
	// plain text does not touch the cache
	r2 := New(3)
	if _, err := r2.RenderString("plain", nil); err != nil || r2.CacheLen() != 0 {
		t.Fatal("plain text was compiled")
	}
}

func TestConcurrentRender(t *testing.T) {
	t.Parallel()
	r := New(8)
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := 0; i < 200; i++ {
				out, err := r.RenderString("{{ a }}-{{ b | upper }}", map[string]any{"a": int64(g), "b": "x"})
				if err != nil {
					done <- err
					return
				}
				if want := strings.Repeat("", 0) + string(rune('0'+g)) + "-X"; out != want {
					done <- errors.New("got " + out + " want " + want)
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestCoerce(t *testing.T) {
	t.Parallel()
	if got := Coerce("[1, 2"); got != "[1, 2" {
		t.Fatalf("broken JSON must stay text: %#v", got)
	}
	if got := Coerce("1e400"); got != "1e400" {
		t.Fatalf("non-finite stays text: %#v", got)
	}
	if got := Coerce("99999999999999999999"); got != 1e20 {
		t.Fatalf("integer beyond int64 is a float: %#v", got)
	}
}

func TestTemplateReferences(t *testing.T) {
	t.Parallel()
	tpl, err := Compile("{% set y = 1 %}{{ a.b }}{{ y }}{% for i in c %}{{ i }}{{ d }}{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a": true, "c": true, "d": true, "y": false, "i": false, "b": false} {
		if got := tpl.References(name); got != want {
			t.Errorf("References(%q) = %v want %v", name, got, want)
		}
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		"{{ range(100000000) }}",
		"{{ 'x' * 1000000000 }}",
		"{{ [1] * 1000000000 }}",
		"{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}",
		"{% set s = 'xxxxxxxx' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s | length }}",
		"{% set s = 'xxxxxxxx' %}{% for i in range(40) %}{% set s = s + s %}{% endfor %}{{ s | length }}",
		"{% set a = [1,2,3,4,5,6,7,8,9,10] %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}{% set c = [b,b,b,b,b,b,b,b,b,b] %}{% set d = [c,c,c,c,c,c,c,c,c,c] %}{% set e = [d,d,d,d,d,d,d,d,d,d] %}{% set f = [e,e,e,e,e,e,e,e,e,e] %}{% set g = [f,f,f,f,f,f,f,f,f,f] %}{% set h = [g,g,g,g,g,g,g,g,g,g] %}{{ h | tojson | length }}",
		"{% set a = [1,2,3,4,5,6,7,8,9,10] %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}{% set c = [b,b,b,b,b,b,b,b,b,b] %}{% set d = [c,c,c,c,c,c,c,c,c,c] %}{% set e = [d,d,d,d,d,d,d,d,d,d] %}{% set f = [e,e,e,e,e,e,e,e,e,e] %}{% set g = [f,f,f,f,f,f,f,f,f,f] %}{% set h = [g,g,g,g,g,g,g,g,g,g] %}{{ h }}",
		"{{ '%99999999d' | format(1) }}",
		"{{ ('\\n' * 10000000) | indent(200) | length }}",
	} {
		if _, err := New(0).RenderString(src, nil); err == nil {
			t.Errorf("%s: expected a limit error", src)
		}
	}
}
