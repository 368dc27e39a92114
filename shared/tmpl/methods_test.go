package tmpl

import "errors"
import "reflect"
import "strings"
import "testing"

// TestPythonMethods evaluates str, list and dict method calls; every expected value is
// what python3 (3.11) gives for the same expression.
func TestPythonMethods(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want any
	}{
		{"'a,b,c'.rsplit(',', 1)", []any{"a,b", "c"}},
		{"'a,b,c'.rsplit(',')", []any{"a", "b", "c"}},
		{"'a,b,c'.rsplit(',', -1)", []any{"a", "b", "c"}},
		{"'a,b'.rsplit(',', 0)", []any{"a,b"}},
		{"'aaa'.rsplit('aa')", []any{"a", ""}},
		{"'aaa'.split('aa')", []any{"", "a"}},
		{"'  a  b c  '.rsplit()", []any{"a", "b", "c"}},
		{"'  a  b c  '.rsplit(None, 1)", []any{"  a  b", "c"}},
		{"'  a  b c  '.rsplit(maxsplit=1)", []any{"  a  b", "c"}},
		{"'  a  b c  '.rsplit(sep=None, maxsplit=0)", []any{"  a  b c"}},
		{"''.rsplit()", []any{}},
		{"''.rsplit(',')", []any{""}},
		{"''.split(',')", []any{""}},
		{"'é/ü/ö'.rsplit('/', 1)", []any{"é/ü", "ö"}},
		{"'a\\x1cb\\u3000c\\u00a0d'.split()", []any{"a", "b", "c", "d"}},
		{"'a b  c'.split(None, 1)", []any{"a", "b  c"}},
		{"'  a b '.split(None, 0)", []any{"a b "}},
		{"'  a b '.split(None, 5)", []any{"a", "b"}},
		{"'a,,b'.split(',')", []any{"a", "", "b"}},
		{"'a b'.split(maxsplit=0)", []any{"a b"}},
		{"'x'.split(sep=',')", []any{"x"}},
		{"'a\\nb\\r\\nc\\rd\\n'.splitlines()", []any{"a", "b", "c", "d"}},
		{"'a\\nb\\r\\nc\\rd\\n'.splitlines(True)", []any{"a\n", "b\r\n", "c\r", "d\n"}},
		{"'a\\nb\\r\\nc'.splitlines(keepends=True)", []any{"a\n", "b\r\n", "c"}},
		{"''.splitlines()", []any{}},
		{"'\\n'.splitlines()", []any{""}},
		{"'\\n\\n'.splitlines()", []any{"", ""}},
		{"'a\\x0bb\\x0cc\\x1cd\\u2028e\\x85f'.splitlines()", []any{"a", "b", "c", "d", "e", "f"}},
		{"'a\\tb'.splitlines()", []any{"a\tb"}},
		{"'k=v=w'.partition('=')", []any{"k", "=", "v=w"}},
		{"'k=v=w'.rpartition('=')", []any{"k=v", "=", "w"}},
		{"'kvw'.partition('=')", []any{"kvw", "", ""}},
		{"'kvw'.rpartition('=')", []any{"", "", "kvw"}},
		{"'ä=ö'.partition('=')", []any{"ä", "=", "ö"}},
		{"'hello'.rfind('l')", int64(3)},
		{"'hello'.find('l', 3)", int64(3)},
		{"'hello'.find('l', -2)", int64(3)},
		{"'hello'.find('l', 1, 3)", int64(2)},
		{"'hello'.find('l', 1, -2)", int64(2)},
		{"'hello'.find('', 5)", int64(5)},
		{"'hello'.find('', 6)", int64(-1)},
		{"'hello'.rfind('', 1, 3)", int64(3)},
		{"'hello'.find('x')", int64(-1)},
		{"'hello'.find('l', None, None)", int64(2)},
		{"'héllo wörld'.find('ö')", int64(7)},
		{"'héllo wörld'.rfind('l', 0, 4)", int64(3)},
		{"'héllo wörld'.index('w')", int64(6)},
		{"'héllo wörld'.rindex('l')", int64(9)},
		{"'hello'.index('l', 3)", int64(3)},
		{"'hello'.rindex('l', 0, 3)", int64(2)},
		{"'aaaa'.count('aa')", int64(2)},
		{"'hello'.count('')", int64(6)},
		{"'hello'.count('', 2)", int64(4)},
		{"'hello'.count('', 9)", int64(0)},
		{"'hello'.count('l', 3)", int64(1)},
		{"'hello'.count('l', -3, -1)", int64(2)},
		{"'héllo'.count('l', 2)", int64(2)},
		{"'123'.isdigit()", true},
		{"''.isdigit()", false},
		{"'²³'.isdigit()", true},
		{"'½'.isdigit()", false},
		{"'½'.isnumeric()", true},
		{"'一二'.isnumeric()", true},
		{"'一二'.isdigit()", false},
		{"'١٢٣'.isdecimal()", true},
		{"'²'.isdecimal()", false},
		{"'12a'.isdigit()", false},
		{"'-1'.isdigit()", false},
		{"'abc'.isalpha()", true},
		{"'ábc'.isalpha()", true},
		{"'ab1'.isalpha()", false},
		{"''.isalpha()", false},
		{"'ab1'.isalnum()", true},
		{"'ab½'.isalnum()", true},
		{"'ab_1'.isalnum()", false},
		{"' \\t\\n'.isspace()", true},
		{"'\\x1f\\u00a0\\u3000'.isspace()", true},
		{"''.isspace()", false},
		{"'a b'.isspace()", false},
		{"'abc'.islower()", true},
		{"'abc1'.islower()", true},
		{"'aBc'.islower()", false},
		{"'123'.islower()", false},
		{"'ª'.islower()", true},
		{"'ABC'.isupper()", true},
		{"'AB1 '.isupper()", true},
		{"'ABc'.isupper()", false},
		{"''.isupper()", false},
		{"'ǅ'.isupper()", false},
		{"'Hello World'.istitle()", true},
		{"'Hello world'.istitle()", false},
		{"'HEllo'.istitle()", false},
		{"'ǅungla'.istitle()", true},
		{"'123'.istitle()", false},
		{"'A1b'.istitle()", false},
		{"\"They'Re\".istitle()", true},
		{"'-42'.zfill(5)", "-0042"},
		{"'+x'.zfill(4)", "+00x"},
		{"'42'.zfill(5)", "00042"},
		{"''.zfill(3)", "000"},
		{"'abc'.zfill(2)", "abc"},
		{"'42'.zfill(-1)", "42"},
		{"'-'.zfill(3)", "-00"},
		{"'ab'.center(5)", "  ab "},
		{"'ab'.center(6, '*')", "**ab**"},
		{"'abc'.center(6)", " abc  "},
		{"'abc'.center(2)", "abc"},
		{"'a'.center(4, 'é')", "éaéé"},
		{"'é'.ljust(3, '·')", "é··"},
		{"'é'.rjust(3)", "  é"},
		{"'x'.rjust(0)", "x"},
		{"'x'.ljust(-3)", "x"},
		{"'Hello ß ΣΑΣ ǅ'.swapcase()", "hELLO SS σας ǅ"},
		{"'ΑΣ'.swapcase()", "ας"},
		{"'Straße ΣΑΣ ſ ﬁ'.casefold()", "strasse σασ s fi"},
		{"'ß ﬁ ŉ straße'.upper()", "SS FI ʼN STRASSE"},
		{"'İ ΑΣ ΑΣ. Σ ΑΣα'.lower()", "i̇ ας ας. σ ασα"},
		{"\"they're bill's 2nd ǆ ßa\"", "they're bill's 2nd ǆ ßa"},
		{"\"they're bill's 2nd ǆ ßa\".title()", "They'Re Bill'S 2Nd ǅ Ssa"},
		{"'ǆx ΑΣ'.capitalize()", "ǅx ας"},
		{"'ßa'.capitalize()", "Ssa"},
		{"'hELLO wORLD'.capitalize()", "Hello world"},
		{"'prefix_name'.removeprefix('prefix_')", "name"},
		{"'name'.removeprefix('x')", "name"},
		{"'name'.removeprefix('')", "name"},
		{"'file.txt'.removesuffix('.txt')", "file"},
		{"'file.txt'.removesuffix('.csv')", "file.txt"},
		{"'a\\tb'.expandtabs()", "a       b"},
		{"'ab\\tc\\n\\td'.expandtabs(4)", "ab  c\n    d"},
		{"'a\\tb'.expandtabs(0)", "ab"},
		{"'a\\tb'.expandtabs(tabsize=2)", "a b"},
		{"'é\\tb\\r\\tc'.expandtabs(3)", "é  b\r   c"},
		{"'a\\tb'.expandtabs(-1)", "ab"},
		{"'abc'.startswith('', 3)", true},
		{"'abc'.startswith('', 4)", false},
		{"'abc'.startswith(('x', 'b'), 1)", true},
		{"'abc'.startswith(('x', 'y'))", false},
		{"'abc'.startswith(())", false},
		{"'abc'.endswith('b', 0, 2)", true},
		{"'abc'.endswith('c', -1)", true},
		{"'abc'.endswith('abc', 1)", false},
		{"'abc'.startswith('bc', -2)", true},
		{"'héllo'.startswith('l', 2)", true},
		{"'xxaxx'.strip('x')", "a"},
		{"'xyaxy'.strip('yx')", "a"},
		{"'\\u3000a\\x1c\\u3000'.strip()", "a"},
		{"'  a '.lstrip()", "a "},
		{"'a  '.rstrip(None)", "a"},
		{"'..a..'.rstrip('.')", "..a"},
		{"'aaa'.replace('a', 'b', 2)", "bba"},
		{"'abc'.replace('', '-')", "-a-b-c-"},
		{"'abc'.replace('', '-', 2)", "-a-bc"},
		{"'aaa'.replace('a', 'b', -1)", "bbb"},
		{"'aaa'.replace('a', 'b', 0)", "aaa"},
		{"'héé'.replace('é', 'e')", "hee"},
		{"[1, 2, 3, 2].index(2)", int64(1)},
		{"[1, 2, 3, 2].index(2, 2)", int64(3)},
		{"[1, 2, 3, 2].index(2, -1)", int64(3)},
		{"[1, 2, 3, 2].index(3, -10, 10)", int64(2)},
		{"['a', 'b'].index('b')", int64(1)},
		{"[1, 2, 3, 2].count(2)", int64(2)},
		{"['a', 'b'].count('c')", int64(0)},
		{"[[1], [1], 1].count([1])", int64(2)},
		{"{'a': 1}.copy()", map[string]any{"a": int64(1)}},
		{"{'a': 1}.get('b')", nil},
		{"{'a': 1}.get('b', 'x')", "x"},
		{"{'a': 1}.get('a', 2)", int64(1)},
		{"'a' in {'a': 1}", true},
		{"'b' not in {'a': 1}", true},
		{"'x' in 'axb'", true},
		{"'ABC'.lower()", "abc"},
		{"'abc'.upper()", "ABC"},
		{"', '.join(['a', 'b'])", "a, b"},
		{"'-'.join('abc')", "a-b-c"},
		{"'-'.join({'a': 1, 'b': 2})", "a-b"},
		{"'abc'.isascii()", true},
		{"''.isascii()", true},
		{"'abé'.isascii()", false},
		{"'a b'.isprintable()", true},
		{"''.isprintable()", true},
		{"'a\\tb'.isprintable()", false},
		{"'a\\u00a0b'.isprintable()", false},
		{"'a\\u200bb'.isprintable()", false},
		{"'héllo'.isprintable()", true},
		{"'{a}-{b[0]}'.format_map({'a': 1, 'b': 'xy'})", "1-x"},
	}
	r := New(0)
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := r.Eval(c.in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v want %#v", got, c.want)
			}
		})
	}
}

// TestPythonMethodErrors: a wrong argument is a render error naming the method (where
// Python raises TypeError or ValueError), never a panic or a guess.
func TestPythonMethodErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"'a'.rsplit(1)", "str.rsplit(): argument 1 must be str, not int"},
		{"'a'.split('')", "str.split(): empty separator"},
		{"'a'.split(',', 'x')", "str.split(): argument 2 must be an integer, not string"},
		{"'a'.split(',', 1, 2)", "str.split(): takes at most 2 arguments (3 given)"},
		{"'a'.split(foo=1)", `str.split(): got an unexpected keyword argument "foo"`},
		{"'a'.split(',', sep=',')", `str.split(): got multiple values for argument "sep"`},
		{"'a'.zfill('x')", "str.zfill(): argument 1 must be an integer, not string"},
		{"'a'.zfill()", `str.zfill(): missing required argument "width"`},
		{"'a'.zfill(100000000)", "str.zfill(): output too large"},
		{"'a'.center(3, 'ab')", "str.center(): the fill character must be exactly one character long"},
		{"'a'.ljust(5, fillchar='x')", "str.ljust(): takes no keyword arguments"},
		{"'a'.index('b')", "str.index(): substring not found"},
		{"'a'.rindex('b')", "str.rindex(): substring not found"},
		{"'a'.find()", `str.find(): missing required argument "sub"`},
		{"'a'.find('a', 'x')", "str.find(): slice indices must be integers or None"},
		{"'a'.count('a', 1.5)", "str.count(): slice indices must be integers or None"},
		{"'a'.startswith(1)", "str.startswith(): first arg must be str or a tuple of str, not int"},
		{"'a'.endswith(('b', 1))", "str.endswith(): tuple must only contain str, not int"},
		{"'a'.upper(1)", "str.upper(): takes at most 0 arguments (1 given)"},
		{"'a'.isdigit(1)", "str.isdigit(): takes at most 0 arguments (1 given)"},
		{"'a'.partition('')", "str.partition(): empty separator"},
		{"'a'.rpartition(none)", "str.rpartition(): argument 1 must be str, not none"},
		{"'a'.replace('a', 1)", "str.replace(): argument 2 must be str, not int"},
		{"'a'.strip(1)", "str.strip(): argument 1 must be str, not int"},
		{"'a'.removeprefix(none)", "str.removeprefix(): argument 1 must be str, not none"},
		{"'a'.expandtabs('x')", "str.expandtabs(): argument 1 must be an integer, not string"},
		{"'a'.splitlines(x=1)", `str.splitlines(): got an unexpected keyword argument "x"`},
		{"', '.join([1])", "str.join(): sequence item 0: expected str instance, int found"},
		{"', '.join(1)", "str.join(): can only join an iterable, not int"},
		{"', '.join(none)", "str.join(): can only join an iterable, not none"},
		{"'{a}'.format_map([1])", "str.format_map(): argument must be a mapping, not list"},
		{"[1].index(2)", "list.index(): 2 is not in list"},
		{"['a'].index('b')", "list.index(): 'b' is not in list"},
		{"[1].index()", `list.index(): missing required argument "value"`},
		{"[1].count()", `list.count(): missing required argument "value"`},
		{"{'a': 1}.get()", `dict.get(): missing required argument "key"`},
		{"{'a': 1}.get('a', 1, 2)", "dict.get(): takes at most 2 arguments (3 given)"},
		{"{}.copy(1)", "dict.copy(): takes at most 0 arguments (1 given)"},
		{"{}.keys(1)", "dict.keys(): takes at most 0 arguments (1 given)"},
		{"'a'.rsplit2()", "attribute rsplit2 is not callable"},
		{"[1].append(2)", "attribute append is not callable"},
	}
	r := New(0)
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			_, err := r.Eval(c.in, nil)
			var te *Error
			if err == nil || !errors.As(err, &te) || te.Kind != "render" || !strings.Contains(te.Msg, c.want) {
				t.Fatalf("error %v, want a render error containing %q", err, c.want)
			}
		})
	}
}

// TestDictCopyDropsAlias: copy of a step result is its data, without the synthetic
// .data alias (as every other way a map leaves a template).
func TestDictCopyDropsAlias(t *testing.T) {
	t.Parallel()
	vars := map[string]any{"step": DataAlias(map[string]any{"a": int64(1)})}
	got, err := New(0).Eval("step.copy()", vars)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"a": int64(1)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v want %#v", got, want)
	}
}

// TestFiltersShareMethodSemantics: the center and split filters are Jinja2's, which call
// str.center and str.split, so they follow the methods (expected values from python3).
func TestFiltersShareMethodSemantics(t *testing.T) {
	t.Parallel()
	renderCases(t, []struct{ in, want string }{
		{"[{{ 'ab' | center(5) }}]", "[  ab ]"},
		{"[{{ 'abc' | center(8) }}]", "[  abc   ]"},
		{"{{ 'a\\x1cb c' | split | join('|') }}", "a|b|c"},
	})
}
