package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxCachedSeries bounds the observer cache: route patterns are few, but the method
// of an unmatched request is whatever the client sent. Past the bound, observations
// take the uncached path (and still count).
const maxCachedSeries = 512

type httpKey struct {
	route, method string
	status        int
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// httpObservers caches the request counter and duration observer of each (route,
// method, status), so that a request looks them up in a plain map instead of hashing
// its label values (and formatting the status) in the vectors on every observation.
// Readers load an immutable map; a new series copies it (rare: a few dozen series).
type httpObservers struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	series   atomic.Pointer[map[httpKey]httpSeries]
	mu       sync.Mutex // serialises copies
}

func newHTTPObservers(requests *prometheus.CounterVec, duration *prometheus.HistogramVec) *httpObservers {
	o := &httpObservers{requests: requests, duration: duration}
	o.series.Store(&map[httpKey]httpSeries{})
	return o
}

func (o *httpObservers) observe(route, method string, status int, d time.Duration) {
	k := httpKey{route, method, status}
	s, ok := (*o.series.Load())[k]
	if !ok {
		s = o.add(k)
	}
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}

func (o *httpObservers) add(k httpKey) httpSeries {
	s := httpSeries{
		requests: o.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status)),
		duration: o.duration.WithLabelValues(k.route, k.method),
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	cur := *o.series.Load()
	if _, ok := cur[k]; ok || len(cur) >= maxCachedSeries {
		return s
	}
	next := make(map[httpKey]httpSeries, len(cur)+1)
	for key, v := range cur {
		next[key] = v
	}
	next[k] = s
	o.series.Store(&next)
	return s
}
