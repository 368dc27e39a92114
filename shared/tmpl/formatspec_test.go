package tmpl

import "errors"
import "strings"
import "testing"

// str.format applies Python's format-spec mini-language; it used to drop everything
// after ':' so "{:>5}" printed the value unpadded. Expected values are CPython's.
func TestBraceFormatSpec(t *testing.T) {
	t.Parallel()
	renderCases(t, []struct{ in, want string }{
		// fill, align, width on strings
		{"{{ '{:>5}'.format('ab') }}", "   ab"},
		{"{{ '{:<5}|'.format('ab') }}", "ab   |"},
		{"{{ '{:^6}'.format('ab') }}", "  ab  "},
		{"{{ '{:*^7}'.format('ab') }}", "**ab***"},
		{"{{ '{:5}|'.format('ab') }}", "ab   |"},
		{"{{ '{:.2}'.format('abcdef') }}", "ab"},
		{"{{ '{:>6.3s}'.format('abcdef') }}", "   abc"},
		{"{{ '{:05}'.format('ab') }}", "ab000"},
		{"{{ '{:>4}'.format('é') }}", "   é"},
		// integers
		{"{{ '{:5}'.format(42) }}", "   42"},
		{"{{ '{:<5}|'.format(42) }}", "42   |"},
		{"{{ '{:05d}'.format(42) }}", "00042"},
		{"{{ '{:05d}'.format(-42) }}", "-0042"},
		{"{{ '{:+d}'.format(42) }}", "+42"},
		{"{{ '{: d}'.format(42) }}", " 42"},
		{"{{ '{:=+6d}'.format(42) }}", "+   42"},
		{"{{ '{:,}'.format(1234567) }}", "1,234,567"},
		{"{{ '{:_d}'.format(-1234567) }}", "-1_234_567"},
		{"{{ '{:08,d}'.format(1234) }}", "0,001,234"},
		{"{{ '{:x}'.format(255) }}", "ff"},
		{"{{ '{:X}'.format(255) }}", "FF"},
		{"{{ '{:#x}'.format(255) }}", "0xff"},
		{"{{ '{:#010b}'.format(5) }}", "0b00000101"},
		{"{{ '{:o}'.format(8) }}", "10"},
		{"{{ '{:_x}'.format(4294967295) }}", "ffff_ffff"},
		{"{{ '{:c}'.format(65) }}", "A"},
		{"{{ '{:d}'.format(3900000000000000123) }}", "3900000000000000123"},
		// floats
		{"{{ '{:.2f}'.format(3.14159) }}", "3.14"},
		{"{{ '{:8.3f}'.format(3.14159) }}", "   3.142"},
		{"{{ '{:08.3f}'.format(-3.14159) }}", "-003.142"},
		{"{{ '{:f}'.format(2.5) }}", "2.500000"},
		{"{{ '{:,.2f}'.format(1234567.891) }}", "1,234,567.89"},
		{"{{ '{:.1%}'.format(0.256) }}", "25.6%"},
		{"{{ '{:%}'.format(1) }}", "100.000000%"},
		{"{{ '{:.0%}'.format(0.5) }}", "50%"},
		{"{{ '{:e}'.format(12345.678) }}", "1.234568e+04"},
		{"{{ '{:.2E}'.format(0.000123) }}", "1.23E-04"},
		{"{{ '{:g}'.format(0.00001234) }}", "1.234e-05"},
		{"{{ '{:g}'.format(1234567.0) }}", "1.23457e+06"},
		{"{{ '{:g}'.format(2.50) }}", "2.5"},
		{"{{ '{:.3g}'.format(3.14159) }}", "3.14"},
		{"{{ '{}'.format(2.5) }}", "2.5"},
		{"{{ '{:>6}'.format(2.5) }}", "   2.5"},
		{"{{ '{:.3}'.format(1.0) }}", "1.0"},
		{"{{ '{:.2}'.format(1234.5) }}", "1.2e+03"},
		{"{{ '{:.2f}'.format(3) }}", "3.00"},
		{"{{ '{:+.1f}'.format(-0.04) }}", "-0.0"},
		{"{{ '{:f}'.format(1e400) }}", "inf"},
		// booleans print as this package prints them; as numbers they are 1 and 0
		{"{{ '{:>6}'.format(true) }}", "  true"},
		{"{{ '{:d}'.format(true) }}", "1"},
		// fields: positions, names, attributes, items, conversions
		{"{{ '{0:>3}|{1:<3}|{0}'.format('a', 'b') }}", "  a|b  |a"},
		{"{{ '{name:>5}'.format(name='ann') }}", "  ann"},
		{"{{ '{0[name]:>5}'.format(users[0]) }}", "  ann"},
		{"{{ '{0.age:03d}'.format(users[1]) }}", "025"},
		{"{{ '{0[1]}'.format(lst) }}", "1"},
		{"{{ '{!r}'.format('a') }}", "'a'"},
		{"{{ '{!s:>3}'.format(1) }}", "  1"},
		{"{{ '{{{}}}'.format(1) }}", "{1}"},
	})
}

// A spec that does not apply, or a part of the mini-language this package does not
// implement, is an error naming it, never ignored.
func TestBraceFormatSpecErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{"{{ '{:d}'.format('ab') }}", "unknown format code 'd' for a string"},
		{"{{ '{:d}'.format(2.5) }}", "unknown format code 'd' for a float"},
		{"{{ '{:s}'.format(2) }}", "unknown format code 's' for an integer"},
		{"{{ '{:.2d}'.format(2) }}", "precision not allowed in an integer"},
		{"{{ '{:+}'.format('a') }}", "sign not allowed in a string"},
		{"{{ '{:=5}'.format('a') }}", "'=' alignment not allowed"},
		{"{{ '{:,}'.format('a') }}", "cannot specify ','"},
		{"{{ '{:,x}'.format(5) }}", "cannot specify ',' with 'x'"},
		{"{{ '{:#f}'.format(5.0) }}", "alternate form (#)"},
		{"{{ '{:z.1f}'.format(-0.0) }}", "'z' option is not supported"},
		{"{{ '{:>5q}'.format(1) }}", `unsupported or misplaced "q"`},
		{"{{ '{:2000}'.format(1) }}", "above 1000"},
		{"{{ '{:>{w}}'.format(1, w=5) }}", "nested replacement fields"},
		{"{{ '{:>5}'.format(none) }}", "cannot format none"},
		{"{{ '{:>5}'.format([1]) }}", "cannot format"},
		{"{{ '{!x}'.format(1) }}", "unknown conversion"},
		{"{{ 'a}b'.format() }}", "single '}'"},
	} {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			_, err := New(0).RenderString(tc.src, testVars())
			var te *Error
			if err == nil || !errors.As(err, &te) || te.Kind != "render" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a render error containing %q", err, tc.want)
			}
		})
	}
}
