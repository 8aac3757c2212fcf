package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// KeepAlivePass is what one keep-alive pass reports to the metrics.
type KeepAlivePass struct {
	Ran                                     bool // false: another replica held the lock
	Failed                                  bool // the pass stopped on an error
	Refreshed, Invalidated, Errors, Deleted int
}

// RegisterKeepAlive registers the keep-alive job's families and returns the function
// that records a pass. now stamps the last-success gauge (nil: time.Now).
//
// auth_manager_keepalive_last_success_timestamp_seconds is the end of the last pass
// this replica ran to completion (0 until one has): the pass runs on one replica at a
// time, so the job's health is the newest value across replicas, and a stalled job is
// one whose newest value grows old.
func (m *Metrics) RegisterKeepAlive(now func() time.Time) func(KeepAlivePass) {
	if now == nil {
		now = time.Now
	}
	passes := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "keepalive_passes_total",
		Help: "Keep-alive passes by result (ran, skipped: another replica held the lock, failed)."}, []string{"result"})
	rows := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "keepalive_rows_total",
		Help: "Rows handled by the keep-alive job by action (refreshed, invalidated, failed, deleted)."}, []string{"action"})
	lastSuccess := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "keepalive_last_success_timestamp_seconds",
		Help: "Unix time at which this replica last completed a keep-alive pass without error (0: none since start; take the max across replicas)."})
	m.reg.MustRegister(passes, rows, lastSuccess)
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
			lastSuccess.Set(float64(now().UnixNano()) / 1e9)
		default:
			passes.WithLabelValues("skipped").Inc()
		}
		rows.WithLabelValues("refreshed").Add(float64(p.Refreshed))
		rows.WithLabelValues("invalidated").Add(float64(p.Invalidated))
		rows.WithLabelValues("failed").Add(float64(p.Errors))
		rows.WithLabelValues("deleted").Add(float64(p.Deleted))
	}
}
