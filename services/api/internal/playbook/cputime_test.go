package playbook

import (
	"testing"
	"time"
)

// reportCPU reports CPU µs per op next to the wall-clock figures: on a machine shared
// with other builds the wall clock includes time spent waiting for a core, the CPU time
// does not.
func reportCPU(b *testing.B, start time.Duration) {
	if used := processCPU() - start; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/parse")
	}
}
