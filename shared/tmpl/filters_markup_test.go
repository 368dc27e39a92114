package tmpl

import "slices"
import "testing"

// wordwrap, xmlattr, urlize and the filter/test tests were unknown before; expected
// values are what Jinja2 3.1 renders (booleans printed as true/false, as here).
func TestLayoutAndMarkupFilters(t *testing.T) {
	t.Parallel()
	renderCases(t, []struct{ in, want string }{
		// wordwrap: textwrap.wrap per line, joined by wrapstring
		{"{{ 'The quick brown fox jumps over the lazy dog' | wordwrap(10) }}", "The quick\nbrown fox\njumps over\nthe lazy\ndog"},
		{"{{ 'The quick brown fox' | wordwrap(10, wrapstring='<br>') }}", "The quick<br>brown fox"},
		{"{{ 'a b' | wordwrap }}", "a b"},
		{"{{ 'first paragraph is long\\nsecond one\\r\\n\\nthird' | wordwrap(12) }}", "first\nparagraph is\nlong\nsecond one\n\nthird"},
		{"{{ 'supercalifragilistic word' | wordwrap(8) }}", "supercal\nifragili\nstic\nword"},
		{"{{ 'supercalifragilistic word' | wordwrap(8, false) }}", "supercalifragilistic\nword"},
		{"{{ 'well-known long-hyphenated-word' | wordwrap(12) }}", "well-known\nlong-\nhyphenated-\nword"},
		{"{{ 'well-known long-hyphenated-word' | wordwrap(12, break_on_hyphens=false) }}", "well-known l\nong-hyphenat\ned-word"},
		{"{{ 'a-very-long-hyphenated-token' | wordwrap(9) }}", "a-very-\nlong-hyph\nenated-\ntoken"},
		{"{{ 'yes--no and more' | wordwrap(5) }}", "yes--\nno\nand\nmore"},
		{"{{ '  lead  and  inner   spaces  ' | wordwrap(7) }}", "  lead\nand\ninner\nspaces"},
		{"{{ 'tab\\there and there' | wordwrap(8) }}", "tab\there\nand\nthere"},
		{"{{ 'über größe straße' | wordwrap(6) }}", "über\ngröße\nstraße"},
		{"{{ '' | wordwrap(5) }}", ""},
		{"{{ 'abcdef' | wordwrap(width=3, break_long_words=true, wrapstring='|') }}", "abc|def"},
		// xmlattr: values escaped, null and undefined skipped; entries in key order
		{"{{ {'class': 'my_list', 'missing': none, 'id': 'list-42'} | xmlattr }}", ` class="my_list" id="list-42"`},
		{`<p{{ {'n': 3, 'title': '<"Tom" & \'Jerry\'>'} | xmlattr }}>`, `<p n="3" title="&lt;&#34;Tom&#34; &amp; &#39;Jerry&#39;&gt;">`},
		{"{{ {'b': 1, 'a': true} | xmlattr }}", ` a="true" b="1"`}, // Jinja2: insertion order, True
		{"{{ {'a': 'b'} | xmlattr(false) }}", `a="b"`},
		{"{{ {'a': 'b'} | xmlattr(autospace=false) }}", `a="b"`},
		{"[{{ {} | xmlattr }}]", "[]"},
		{"[{{ {'x': none, 'y': missing} | xmlattr }}]", "[]"},
		// urlize: text escaped, URLs and e-mail addresses linked
		{"{{ 'see http://example.com/a?b=1 now' | urlize }}", `see <a href="http://example.com/a?b=1" rel="noopener">http://example.com/a?b=1</a> now`},
		{"{{ 'go to www.example.org.' | urlize }}", `go to <a href="https://www.example.org" rel="noopener">www.example.org</a>.`},
		{"{{ '(https://en.wikipedia.org/wiki/Go_(language)) ok' | urlize }}", `(<a href="https://en.wikipedia.org/wiki/Go_(language)" rel="noopener">https://en.wikipedia.org/wiki/Go_(language)</a>) ok`},
		{"{{ 'mail me@example.com or mailto:you@example.org' | urlize }}", `mail <a href="mailto:me@example.com">me@example.com</a> or <a href="mailto:you@example.org">you@example.org</a>`},
		{"{{ 'plain example.com and foo.io' | urlize }}", `plain <a href="https://example.com" rel="noopener">example.com</a> and foo.io`},
		{"{{ 'http://example.com/a/very/long/path' | urlize(15) }}", `<a href="http://example.com/a/very/long/path" rel="noopener">http://example....</a>`},
		{"{{ 'http://example.com' | urlize(nofollow=true, target='_blank') }}", `<a href="http://example.com" rel="nofollow noopener" target="_blank">http://example.com</a>`},
		{"{{ 'http://example.com' | urlize(rel='external') }}", `<a href="http://example.com" rel="external noopener">http://example.com</a>`},
		{"{{ 'ftp://files.example.com/x and ftp://' | urlize(extra_schemes=['ftp://']) }}", `<a href="ftp://files.example.com/x" rel="noopener">ftp://files.example.com/x</a> and ftp://`},
		{"{{ '<b>http://127.0.0.1:8080/x</b> & @a@b' | urlize }}", "&lt;b&gt;http://127.0.0.1:8080/x&lt;/b&gt; &amp; @a@b"},
		// the filter and test tests, and keyword arguments Jinja2 names
		{"{{ 'wordwrap' is filter }} {{ 'nosuch' is filter }} {{ 'odd' is test }} {{ 'nosuch' is test }} {{ 3 is filter }}", "true false true false false"},
		{"{{ 'a-b-c' | replace(old='-', new='+', count=1) }}", "a+b-c"},
		{"{{ 'a-b-c' | replace('-', new='') }}", "abc"},
		{"{{ m | attr(name='z') }}", "last"},
	})
}

func TestLayoutAndMarkupFilterErrors(t *testing.T) {
	t.Parallel()
	renderErrorCases(t, []string{
		"{{ 'text' | wordwrap(0) }}",
		"{{ 'text' | wordwrap('5') }}",
		"{{ {'bad key': 1} | xmlattr }}",
		"{{ {'a/b': 1} | xmlattr }}",
		"{{ {'a>': 1} | xmlattr }}",
		"{{ {'a=': 1} | xmlattr }}",
		"{{ lst | xmlattr }}",
		"{{ 'x' | urlize(extra_schemes=['not a scheme']) }}",
		"{{ 'x' | urlize('5') }}",
		"{{ 'abc' | replace('a') }}",
	})
}

// random picks through randomIndex; the test replaces it, so it does not run in
// parallel with the other tests of the package.
func TestRandomFilter(t *testing.T) {
	picked := []int{}
	orig := randomIndex
	t.Cleanup(func() { randomIndex = orig })
	randomIndex = func(n int) int {
		picked = append(picked, n)
		return n - 1
	}
	for _, c := range []struct{ in, want string }{
		{"{{ [1, 2, 3] | random }}", "3"},
		{"{{ 'abc' | random }}", "c"},
		{"{{ {'a': 1, 'b': 2} | random }}", "b"},
		{"[{{ [] | random }}]", "[]"},
		{"[{{ missing | random }}]", "[]"},
	} {
		if got := renderT(t, c.in); got != c.want {
			t.Errorf("%s: got %q want %q", c.in, got, c.want)
		}
	}
	if want := []int{3, 3, 2}; !slices.Equal(picked, want) {
		t.Errorf("randomIndex called with %v, want %v (never for an empty sequence)", picked, want)
	}
	randomIndex = orig
	for range 20 {
		if got := renderT(t, "{{ ['a', 'b', 'c'] | random }}"); got != "a" && got != "b" && got != "c" {
			t.Fatalf("the default source picked %q, not an item", got)
		}
	}
	if _, err := New(0).RenderString("{{ 5 | random }}", nil); err == nil {
		t.Error("random of a number: no error")
	}
}
