package resolve

import "testing"
import "time"

// The reference vectors of the dynamic-TTL rule: now = 1000, default 600 s, margin 60 s
// unless stated.
func TestCacheFor(t *testing.T) {
	t.Parallel()
	at := func(s int64) *time.Time { v := time.Unix(s, 0); return &v }
	now := time.Unix(1000, 0)
	tests := []struct {
		name    string
		exp     *time.Time
		margin  time.Duration
		want    time.Duration
		cacheOK bool
	}{
		{"no expiry", nil, 60 * time.Second, 600 * time.Second, true},
		{"far expiry capped at the default", at(10000), 60 * time.Second, 600 * time.Second, true},
		{"expiry minus margin", at(1300), 60 * time.Second, 240 * time.Second, true},
		{"already expired", at(900), 60 * time.Second, 0, false},
		{"inside the margin", at(1030), 60 * time.Second, 0, false},
		{"ten seconds left", at(1070), 60 * time.Second, 10 * time.Second, true},
		{"two seconds left, floored", at(1062), 60 * time.Second, 5 * time.Second, true},
		{"expiring now, no margin", at(1000), 0, 0, false},
		{"fraction of a second truncated", func() *time.Time { v := time.Unix(1075, 900_000_000); return &v }(), 60 * time.Second, 15 * time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := cacheFor(tc.exp, 600*time.Second, tc.margin, now)
			if got != tc.want || ok != tc.cacheOK {
				t.Errorf("cacheFor = %v, %v; want %v, %v", got, ok, tc.want, tc.cacheOK)
			}
		})
	}
}
