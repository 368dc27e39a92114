package promx

import "slices"
import "strings"
import "testing"

import "github.com/prometheus/client_golang/prometheus"

// series gathers vec and returns each series as "name=value,...: 0" (or ": non-zero"), sorted.
func series(t *testing.T, vec *prometheus.CounterVec) []string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(vec)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var vs []string
			for _, l := range m.GetLabel() {
				vs = append(vs, l.GetName()+"="+l.GetValue())
			}
			value := "0"
			if m.GetCounter().GetValue() != 0 {
				value = "non-zero"
			}
			out = append(out, strings.Join(vs, ",")+": "+value)
		}
	}
	slices.Sort(out)
	return out
}

func TestZero(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		labels []string
		values [][]string
		want   []string
	}{
		{
			name: "one label", labels: []string{"status"},
			values: [][]string{{"ok", "error"}},
			want:   []string{"status=error: 0", "status=ok: 0"},
		},
		{
			name: "cross product in label order", labels: []string{"table", "status"},
			values: [][]string{{"a", "b"}, {"ok", "failed"}},
			// Gathered labels come sorted by name.
			want: []string{"status=failed,table=a: 0", "status=failed,table=b: 0", "status=ok,table=a: 0", "status=ok,table=b: 0"},
		},
		{
			name: "three labels", labels: []string{"op", "outcome", "status"},
			values: [][]string{{"get"}, {"hit", "miss"}, {"written"}},
			want:   []string{"op=get,outcome=hit,status=written: 0", "op=get,outcome=miss,status=written: 0"},
		},
		{
			name: "an empty list creates nothing", labels: []string{"table", "status"},
			values: [][]string{{"a", "b"}, {}},
			want:   nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_total", Help: "test"}, tc.labels)
			Zero(vec, tc.values...)
			if got := series(t, vec); !slices.Equal(got, tc.want) {
				t.Fatalf("series = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	t.Parallel()
	type table string
	if got := Strings([]table{"credential", "keychain"}); !slices.Equal(got, []string{"credential", "keychain"}) {
		t.Fatalf("Strings = %q", got)
	}
}

func TestKnown(t *testing.T) {
	t.Parallel()
	known := map[string]bool{"GET": true, "call.done": true}
	for _, tc := range []struct{ in, want string }{
		{"GET", "GET"},
		{"call.done", "call.done"},
		{"get", Other},
		{"", Other},
		{"BREW", Other},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := Known(known, tc.in); got != tc.want {
				t.Fatalf("Known(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestFirstSeen(t *testing.T) {
	t.Parallel()
	f := NewFirstSeen(2)
	for _, c := range []struct{ in, want string }{
		{"eu", "eu"}, {"us", "us"}, {"eu", "eu"}, {"ap", Other}, {"us", "us"}, {"sa", Other},
	} {
		if got := f.Label(c.in); got != c.want {
			t.Errorf("Label(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
