package app

import "errors"
import "strings"
import "testing"

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/testutil"

// TestWriteMetricsSeriesStartAtZero: each write endpoint has its ok and error series before
// the first write, and a write counts on the series of its outcome.
func TestWriteMetricsSeriesStartAtZero(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	count := newWriteMetrics(reg)
	count("runtime_heartbeat", errors.New("down"))
	want := `
# HELP noetl_write_requests_total Writes to the catalog and the runtime registry, by endpoint and outcome.
# TYPE noetl_write_requests_total counter
noetl_write_requests_total{endpoint="catalog_register",status="error"} 0
noetl_write_requests_total{endpoint="catalog_register",status="ok"} 0
noetl_write_requests_total{endpoint="runtime_heartbeat",status="error"} 1
noetl_write_requests_total{endpoint="runtime_heartbeat",status="ok"} 0
noetl_write_requests_total{endpoint="runtime_register",status="error"} 0
noetl_write_requests_total{endpoint="runtime_register",status="ok"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "noetl_write_requests_total"); err != nil {
		t.Fatal(err)
	}
}
