package executor

import "github.com/prometheus/client_golang/prometheus"

import "github.com/noetl/controlplane/shared/promx"

// metrics are the worker's command metrics. Labels are bounded: tool kinds (else
// "other") and outcomes; execution ids and aliases never are.
type metrics struct {
	commands *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// What happened to commands on the way: claims lost to another worker, event posts
	// repeated, commands handed over already claimed.
	claimsLost, eventRetries, eager prometheus.Counter
}

// newMetrics creates the metrics and registers them on reg (none when reg is nil).
func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		commands: promx.CounterVec(reg, "noetl_worker_commands_total", "Commands run, by tool and outcome (success, error, cancelled, handed_back).", "tool", "outcome"),
		duration: promx.HistogramVec(reg, "noetl_worker_tool_duration_seconds", "Time from command.started to the tool's outcome, policy retries included.",
			[]float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}, "tool"),
		inFlight:     promx.Gauge(reg, "noetl_worker_commands_in_flight", "Commands being claimed, run or reported."),
		claimsLost:   promx.Counter(reg, "noetl_worker_claims_lost_total", "Claims answered 404 or 409 (another worker has the command, or it is over)."),
		eventRetries: promx.Counter(reg, "noetl_worker_event_retries_total", "Event posts repeated after a transient failure."),
		eager:        promx.Counter(reg, "noetl_worker_eager_commands_total", "Commands received already claimed in the answer to an outcome (eager dispatch)."),
	}
}
