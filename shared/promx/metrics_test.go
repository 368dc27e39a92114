package promx

import "slices"
import "testing"

import "github.com/prometheus/client_golang/prometheus"

// TestConstructorsRegister: each constructor registers its metric on reg under its name,
// help text, type, labels and buckets; a nil reg registers nothing and does not panic.
func TestConstructorsRegister(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	Counter(reg, "t_counter_total", "a counter").Inc()
	CounterVec(reg, "t_vec_total", "a counter vector", "a", "b").WithLabelValues("x", "y").Inc()
	Gauge(reg, "t_gauge", "a gauge").Set(2)
	Histogram(reg, "t_hist_seconds", "a histogram", []float64{1, 2}).Observe(1.5)
	HistogramVec(reg, "t_histvec_seconds", "a histogram vector", []float64{1}, "c").WithLabelValues("z").Observe(0.5)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		help   string
		typ    string
		labels []string
		bounds int
	}
	gathered := map[string]got{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName())
		}
		gathered[mf.GetName()] = got{mf.GetHelp(), mf.GetType().String(), labels, len(m.GetHistogram().GetBucket())}
	}
	want := map[string]got{
		"t_counter_total":   {"a counter", "COUNTER", nil, 0},
		"t_vec_total":       {"a counter vector", "COUNTER", []string{"a", "b"}, 0},
		"t_gauge":           {"a gauge", "GAUGE", nil, 0},
		"t_hist_seconds":    {"a histogram", "HISTOGRAM", nil, 2},
		"t_histvec_seconds": {"a histogram vector", "HISTOGRAM", []string{"c"}, 1},
	}
	if len(gathered) != len(want) {
		t.Fatalf("gathered %d metrics, want %d: %v", len(gathered), len(want), gathered)
	}
	for name, w := range want {
		g := gathered[name]
		if g.help != w.help || g.typ != w.typ || !slices.Equal(g.labels, w.labels) || g.bounds != w.bounds {
			t.Errorf("%s = %+v, want %+v", name, g, w)
		}
	}
	Counter(nil, "t_counter_total", "unregistered").Inc()
}
