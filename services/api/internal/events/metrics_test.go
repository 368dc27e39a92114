package events

import "testing"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

// TestIngestedSeriesStartAtZero: every known event type has its ok and error series from
// the start, so a rate or an alert on ingest errors sees 0 rather than nothing.
func TestIngestedSeriesStartAtZero(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m := newMetrics(reg)
	if n, err := testutil.GatherAndCount(reg, "noetl_events_ingested_total"); err != nil || n != 2*len(knownTypes) {
		t.Fatalf("series = %d, %v; want %d", n, err, 2*len(knownTypes))
	}
	for _, status := range []string{"ok", "error"} {
		if v := testutil.ToFloat64(m.ingested.WithLabelValues("command.failed", status)); v != 0 {
			t.Errorf("ingested{command.failed,%s} = %v, want 0", status, v)
		}
	}
}
