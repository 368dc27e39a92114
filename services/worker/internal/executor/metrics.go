package executor

import "github.com/prometheus/client_golang/prometheus"
import "github.com/prometheus/client_golang/prometheus/promauto"

// metrics are the worker's command metrics. Labels are bounded: tool kinds (else
// "other") and outcomes; execution ids and aliases never are.
type metrics struct {
	commands     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	inFlight     prometheus.Gauge
	claimsLost   prometheus.Counter
	eventRetries prometheus.Counter
	eager        prometheus.Counter
}

// newMetrics creates the metrics and registers them on reg (none when reg is nil).
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		commands: f.NewCounterVec(prometheus.CounterOpts{
			Name: "noetl_worker_commands_total", Help: "Commands run, by tool and outcome (success, error, cancelled, handed_back).",
		}, []string{"tool", "outcome"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "noetl_worker_tool_duration_seconds", Help: "Time from command.started to the tool's outcome, policy retries included.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"tool"}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "noetl_worker_commands_in_flight", Help: "Commands being claimed, run or reported.",
		}),
		claimsLost: f.NewCounter(prometheus.CounterOpts{
			Name: "noetl_worker_claims_lost_total", Help: "Claims answered 404 or 409 (another worker has the command, or it is over).",
		}),
		eventRetries: f.NewCounter(prometheus.CounterOpts{
			Name: "noetl_worker_event_retries_total", Help: "Event posts repeated after a transient failure.",
		}),
		eager: f.NewCounter(prometheus.CounterOpts{
			Name: "noetl_worker_eager_commands_total", Help: "Commands received already claimed in the answer to an outcome (eager dispatch).",
		}),
	}
}
