package metrics

import (
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const ns = "auth_manager"

// Metrics holds the registry and the collectors fed by the service.
type Metrics struct {
	reg          *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	kcCalls      *prometheus.CounterVec
	kcDuration   *prometheus.HistogramVec
	refreshes    *prometheus.CounterVec
	http         *httpObservers
}

// BuildInfo labels the build_info gauge.
type BuildInfo struct{ Version, Commit string }

// New registers every collector on a fresh registry (no global state).
func New(info BuildInfo) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
			Help: "HTTP requests by route pattern, method and status."}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route", "method"}),
		kcCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "keycloak_requests_total",
			Help: "Keycloak calls by operation and outcome (ok, refused, server_error, unavailable)."}, []string{"op", "outcome"}),
		kcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "keycloak_request_duration_seconds",
			Help:    "Keycloak call latency by operation.",
			Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"op"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "token_refreshes_total",
			Help: "Refreshes of stored tokens at Keycloak by outcome (ok, invalid_grant, transient, error)."}, []string{"outcome"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
		Help: "The running build; always 1."}, []string{"version", "commit", "goversion"})
	build.WithLabelValues(info.Version, info.Commit, runtime.Version()).Set(1)
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.kcCalls, m.kcDuration, m.refreshes, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.http = newHTTPObservers(m.httpRequests, m.httpDuration)
	for _, o := range []string{"ok", "invalid_grant", "transient", "error"} {
		m.refreshes.WithLabelValues(o)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry exposes the registry for collectors registered by the wiring code.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveHTTP records one answered request. route is the chi pattern ("" for an
// unmatched path, recorded as "unmatched").
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.http.observe(route, method, status, d)
}

// ObserveKeycloak records one Keycloak call.
func (m *Metrics) ObserveKeycloak(op, outcome string, d time.Duration) {
	m.kcCalls.WithLabelValues(op, outcome).Inc()
	m.kcDuration.WithLabelValues(op).Observe(d.Seconds())
}

// Refresh records one refresh's outcome.
func (m *Metrics) Refresh(outcome string) { m.refreshes.WithLabelValues(outcome).Inc() }

// CacheStats is what the access-token cache reports.
type CacheStats struct {
	Hits, Misses, Evictions int64
	Size                    int
	Healthy                 bool
}

// RegisterCache exposes the access-token cache's counters, read at scrape time.
func (m *Metrics) RegisterCache(stats func() CacheStats) {
	counter := func(name, help string, f func(CacheStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help},
			func() float64 { return float64(f(stats())) })
	}
	m.reg.MustRegister(
		counter("access_token_cache_hits_total", "Access tokens served from the cache.", func(s CacheStats) int64 { return s.Hits }),
		counter("access_token_cache_misses_total", "Access-token cache misses.", func(s CacheStats) int64 { return s.Misses }),
		counter("access_token_cache_evictions_total", "Access tokens evicted (bound, deletion or invalidation).", func(s CacheStats) int64 { return s.Evictions }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "access_token_cache_size", Help: "Cached access tokens."},
			func() float64 { return float64(stats().Size) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "access_token_cache_trusted",
			Help: "1 while the cross-replica eviction feed is fresh (the cache answers), else 0."},
			func() float64 {
				if stats().Healthy {
					return 1
				}
				return 0
			}),
	)
}
