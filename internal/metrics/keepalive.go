package metrics

import "github.com/prometheus/client_golang/prometheus"

// KeepAlivePass is what one keep-alive pass reports to the metrics.
type KeepAlivePass struct {
	Ran                                     bool // false: another replica held the lock
	Failed                                  bool // the pass stopped on an error
	Refreshed, Invalidated, Errors, Deleted int
}

// RegisterKeepAlive registers the keep-alive job's families and returns the function
// that records a pass.
func (m *Metrics) RegisterKeepAlive() func(KeepAlivePass) {
	passes := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "keepalive_passes_total",
		Help: "Keep-alive passes by result (ran, skipped: another replica held the lock, failed)."}, []string{"result"})
	rows := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "keepalive_rows_total",
		Help: "Rows handled by the keep-alive job by action (refreshed, invalidated, failed, deleted)."}, []string{"action"})
	m.reg.MustRegister(passes, rows)
	for _, r := range []string{"ran", "skipped", "failed"} {
		passes.WithLabelValues(r)
	}
	for _, a := range []string{"refreshed", "invalidated", "failed", "deleted"} {
		rows.WithLabelValues(a)
	}
	return func(p KeepAlivePass) {
		switch {
		case p.Failed:
			passes.WithLabelValues("failed").Inc()
		case p.Ran:
			passes.WithLabelValues("ran").Inc()
		default:
			passes.WithLabelValues("skipped").Inc()
		}
		rows.WithLabelValues("refreshed").Add(float64(p.Refreshed))
		rows.WithLabelValues("invalidated").Add(float64(p.Invalidated))
		rows.WithLabelValues("failed").Add(float64(p.Errors))
		rows.WithLabelValues("deleted").Add(float64(p.Deleted))
	}
}
