package httpx

import "errors"
import "net/http"
import "testing"

func TestOneOf(t *testing.T) {
	t.Parallel()
	allowed := []string{"RUNNING", "COMPLETED"}
	for _, tc := range []struct {
		name, raw, want, err string
	}{
		{"absent is no filter", "", "", ""},
		{"blank is no filter", "  ", "", ""},
		{"exact", "RUNNING", "RUNNING", ""},
		{"any case, trimmed, answered in the allowed spelling", " completed ", "COMPLETED", ""},
		{"unknown names every allowed value", "bogus", "", `Invalid query parameter status: "bogus" is not one of RUNNING, COMPLETED`},
		{"a prefix is not a match", "RUN", "", `Invalid query parameter status: "RUN" is not one of RUNNING, COMPLETED`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := OneOf("query parameter status", tc.raw, allowed...)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Fatalf("OneOf(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
				}
				return
			}
			var he *Error
			if !errors.As(err, &he) || StatusOf(err) != http.StatusBadRequest || err.Error() != tc.err {
				t.Fatalf("OneOf(%q) error = %v (status %d), want 400 %q", tc.raw, err, StatusOf(err), tc.err)
			}
		})
	}
}
