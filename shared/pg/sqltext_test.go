package pg

import "testing"

func TestSkipBlockComment(t *testing.T) {
	for _, tc := range []struct {
		in   string
		at   int
		want int
	}{
		{"/* a */ select", 0, 7},
		{"x /* a /* nested */ still */y", 2, 28},
		{"/* unclosed", 0, 11},
		{"/* a /* unclosed inner */", 0, 25},
		{"/**/", 0, 4},
	} {
		if got := SkipBlockComment(tc.in, tc.at); got != tc.want {
			t.Errorf("SkipBlockComment(%q, %d) = %d, want %d", tc.in, tc.at, got, tc.want)
		}
	}
}
