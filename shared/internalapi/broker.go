package internalapi

import "slices"

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of a cross-region broker call: the outcome label of
// noetl_secret_broker_call_total and the values of BrokerOutcomeHeader.
const (
	BrokerOK             = "ok"
	BrokerUnreachable    = "unreachable"
	BrokerDenied         = "denied_by_broker"
	BrokerWrongRegion    = "wrong_region"
	BrokerBadPubkey      = "bad_pubkey"
	BrokerResolveError   = "resolve_error"
	BrokerSerializeError = "serialize_error"
	BrokerSealError      = "seal_error"
)

// BrokerOutcomes lists them.
var BrokerOutcomes = []string{BrokerOK, BrokerUnreachable, BrokerDenied, BrokerWrongRegion, BrokerBadPubkey,
	BrokerResolveError, BrokerSerializeError, BrokerSealError}

// KnownBrokerOutcome reports whether s is one of BrokerOutcomes (a header value read from
// a peer must not mint label values).
func KnownBrokerOutcome(s string) bool { return slices.Contains(BrokerOutcomes, s) }

// BrokerMetrics are the cross-region call metrics. Both sides count the call: the
// requesting wallet per region it called (with the round-trip duration), the broker per
// request it served, labelled with its own region (with wrong_region, the region the
// peer expected).
type BrokerMetrics struct {
	Calls    *prometheus.CounterVec
	Duration *prometheus.HistogramVec
}

// NewBrokerMetrics registers the counter and, with duration, the histogram; every
// outcome of each region in regions starts at zero.
func NewBrokerMetrics(reg prometheus.Registerer, duration bool, regions ...string) *BrokerMetrics {
	m := &BrokerMetrics{Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "noetl_secret_broker_call_total",
		Help: "Cross-region broker call outcomes per broker_region (Phase 6e).",
	}, []string{"broker_region", "outcome"})}
	reg.MustRegister(m.Calls)
	if duration {
		m.Duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "noetl_secret_broker_call_duration_seconds",
			Help:    "Wall-clock seconds spent in a cross-region broker call.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5},
		}, []string{"broker_region"})
		reg.MustRegister(m.Duration)
	}
	for _, r := range regions {
		for _, o := range BrokerOutcomes {
			m.Calls.WithLabelValues(RegionLabel(r), o)
		}
	}
	return m
}

// Count records one call.
func (m *BrokerMetrics) Count(region, outcome string) {
	if m != nil {
		m.Calls.WithLabelValues(RegionLabel(region), outcome).Inc()
	}
}

// Observe records a call's duration in seconds.
func (m *BrokerMetrics) Observe(region string, seconds float64) {
	if m != nil && m.Duration != nil {
		m.Duration.WithLabelValues(RegionLabel(region)).Observe(seconds)
	}
}

// RegionLabel is a region as a metric label: "-" when empty.
func RegionLabel(region string) string {
	if region == "" {
		return "-"
	}
	return region
}
