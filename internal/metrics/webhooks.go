package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Webhooks records the deliveries of token-health events (events.Observer).
type Webhooks struct {
	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
	pending  *prometheus.GaugeVec
	oldest   *prometheus.GaugeVec
}

// RegisterWebhooks registers the webhook families, with a series for each of
// subscribers from the start.
func (m *Metrics) RegisterWebhooks(subscribers []string) *Webhooks {
	w := &Webhooks{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "webhook_deliveries_total",
			Help: "Webhook delivery attempts by subscriber and outcome (delivered; failed: retried later; dead: attempts exhausted; lease_lost: took longer than its lease)."},
			[]string{"subscriber", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "webhook_delivery_duration_seconds",
			Help:    "Time of one webhook delivery attempt by subscriber.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"subscriber"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "webhook_pending",
			Help: "Deliveries not yet made (waiting or retrying) by subscriber, counted every 15 s."}, []string{"subscriber"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "webhook_oldest_pending_seconds",
			Help: "Age of the oldest event a subscriber still waits for, counted every 15 s (0: none)."}, []string{"subscriber"}),
	}
	m.reg.MustRegister(w.attempts, w.duration, w.pending, w.oldest)
	for _, s := range subscribers {
		for _, o := range []string{"delivered", "failed", "dead", "lease_lost"} {
			w.attempts.WithLabelValues(s, o)
		}
		w.pending.WithLabelValues(s)
		w.oldest.WithLabelValues(s)
	}
	return w
}

// Delivered records one delivery attempt.
func (w *Webhooks) Delivered(subscriber, outcome string, took time.Duration) {
	w.attempts.WithLabelValues(subscriber, outcome).Inc()
	w.duration.WithLabelValues(subscriber).Observe(took.Seconds())
}

// Backlog records a subscriber's pending deliveries.
func (w *Webhooks) Backlog(subscriber string, pending int, oldest time.Duration) {
	w.pending.WithLabelValues(subscriber).Set(float64(pending))
	w.oldest.WithLabelValues(subscriber).Set(oldest.Seconds())
}
