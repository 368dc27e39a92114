package wire

import "strings"
import "testing"

func TestCheckWorkerID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		id string
		ok bool
	}{
		{"worker-1", true},
		{"pool:east/worker 7", true},
		{"wörker-é", true},
		{strings.Repeat("w", MaxWorkerIDBytes), true},
		{"", false},
		{strings.Repeat("w", MaxWorkerIDBytes+1), false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\u0085b", false},
		{"\xff", false},
	}
	for _, tc := range cases {
		if err := CheckWorkerID(tc.id); (err == nil) != tc.ok {
			t.Errorf("CheckWorkerID(%.20q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}
