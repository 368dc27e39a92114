// Package promx holds the Prometheus helpers the services share.
package promx

import "sync"

import "github.com/prometheus/client_golang/prometheus"

// Zero creates the series of every combination of values (one list per label, in the
// vector's label order) at zero. A counter series that does not exist yet reads as
// absent, not 0, so a rate or an alert on a rare outcome (a failed write, a denial)
// would see nothing until the first one happens; pre-creating the series avoids that.
// Only bounded, known values belong here: each combination is a series.
func Zero(vec *prometheus.CounterVec, values ...[]string) {
	labels := make([]string, len(values))
	var walk func(i int)
	walk = func(i int) {
		if i == len(values) {
			vec.WithLabelValues(labels...)
			return
		}
		for _, v := range values[i] {
			labels[i] = v
			walk(i + 1)
		}
	}
	walk(0)
}

// Strings turns a list of a string type (a table, an outcome) into label values for Zero.
func Strings[S ~string](xs []S) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// Other is the label value of every value outside a label's known set.
const Other = "other"

// Known is v when known holds it, else Other. A label whose value a caller chooses (a
// request's method, a posted event's type) must stay within a known set: otherwise each
// new value adds a series to the registry, without limit.
func Known(known map[string]bool, v string) string {
	if known[v] {
		return v
	}
	return Other
}

// FirstSeen bounds a label whose values cannot be listed in advance but that a caller
// can choose (a keychain entry's region, written by whoever registers the playbook): the
// first max distinct values keep their label, every later one is Other. Without a bound
// each new value adds a series to the registry, and to the router's merged /metrics.
type FirstSeen struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

// NewFirstSeen keeps up to max values.
func NewFirstSeen(max int) *FirstSeen { return &FirstSeen{max: max, seen: map[string]bool{}} }

// Label is v while v is one of the first max values seen, else Other.
func (f *FirstSeen) Label(v string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.seen[v] {
		if len(f.seen) >= f.max {
			return Other
		}
		f.seen[v] = true
	}
	return v
}
