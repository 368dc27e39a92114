package testkit

import "testing"
import "time"

// ReportCPU reports the process CPU time per operation since start (a ProcessCPU
// reading) as unit, next to a benchmark's wall-clock figures: on a machine shared with
// other builds the wall clock includes time spent waiting for a core, the CPU time does
// not. Where the CPU time is not measured it reports nothing.
func ReportCPU(b *testing.B, start time.Duration, unit string) {
	if used := ProcessCPU() - start; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/1e3/float64(b.N), unit)
	}
}
