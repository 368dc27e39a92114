package timeouts

import "strings"
import "testing"
import "time"

func TestParse(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in   any
		want time.Duration
	}{
		{int64(30), 30 * time.Second},
		{2.5, 2500 * time.Millisecond},
		{"30", 30 * time.Second},
		{" 0.05 ", 50 * time.Millisecond},
		{"30s", 30 * time.Second},
		{"5m", 5 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"250ms", 250 * time.Millisecond},
	}
	for _, c := range ok {
		t.Run("ok", func(t *testing.T) {
			got, err := Parse(c.in)
			if err != nil || got != c.want {
				t.Fatalf("Parse(%#v) = %v, %v; want %v", c.in, got, err, c.want)
			}
		})
	}
	bad := []struct {
		in   any
		want string
	}{
		{int64(0), "must be positive"},
		{int64(-5), "must be positive"},
		{"-1s", "must be positive"},
		{"0s", "must be positive"},
		{"soon", `got "soon"`},
		{"5 minutes", `got "5 minutes"`},
		{true, "got a boolean"},
		{nil, "got null"},
		{map[string]any{}, "got a mapping"},
		{[]any{}, "got a list"},
		{1e300, "too large"},
	}
	for _, c := range bad {
		t.Run("bad", func(t *testing.T) {
			_, err := Parse(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse(%#v) error = %v; want one containing %q", c.in, err, c.want)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	if got := Seconds(5 * time.Minute); got != int64(300) {
		t.Fatalf("Seconds(5m) = %#v, want int64 300", got)
	}
	if got := Seconds(1500 * time.Millisecond); got != 1.5 {
		t.Fatalf("Seconds(1.5s) = %#v, want 1.5", got)
	}
}
