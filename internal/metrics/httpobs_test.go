package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestObserveHTTPCountsEverySeries(t *testing.T) {
	m := New(BuildInfo{Version: "test"})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				m.ObserveHTTP("/v1/access-token", "POST", 200, time.Millisecond)
				if i%10 == 0 {
					m.ObserveHTTP("/v1/access-token", "POST", 404, 2*time.Millisecond)
				}
				if g == 0 && i == 0 {
					m.ObserveHTTP("", "GET", 404, time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	text := scrape(t, m)
	assert.Contains(t, text, `auth_manager_http_requests_total{method="POST",route="/v1/access-token",status="200"} 400`+"\n")
	assert.Contains(t, text, `auth_manager_http_requests_total{method="POST",route="/v1/access-token",status="404"} 40`+"\n")
	assert.Contains(t, text, `auth_manager_http_requests_total{method="GET",route="unmatched",status="404"} 1`+"\n")
	assert.Contains(t, text, `auth_manager_http_request_duration_seconds_count{method="POST",route="/v1/access-token"} 440`+"\n")
	assert.Contains(t, text, `auth_manager_http_request_duration_seconds_bucket{method="POST",route="/v1/access-token",le="0.001"} 400`+"\n")
	assert.Len(t, *m.http.series.Load(), 3)
}

func TestObserveHTTPBoundsTheCache(t *testing.T) {
	m := New(BuildInfo{Version: "test"})
	n := maxCachedSeries + 50
	for i := range n {
		m.ObserveHTTP("", "M"+strconv.Itoa(i), 405, time.Millisecond)
	}
	m.ObserveHTTP("", "M"+strconv.Itoa(n-1), 405, time.Millisecond)
	assert.Len(t, *m.http.series.Load(), maxCachedSeries, "the cache stops growing")
	require.Contains(t, scrape(t, m), fmt.Sprintf(`auth_manager_http_requests_total{method="M%d",route="unmatched",status="405"} 2`+"\n", n-1),
		"series beyond the bound still count")
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

// BenchmarkObserveHTTP compares the cached observers with the label look-ups they
// replaced.
func BenchmarkObserveHTTP(b *testing.B) {
	m := New(BuildInfo{Version: "test"})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			m.ObserveHTTP("/v1/access-token", "POST", 200, time.Millisecond)
		}
	})
	b.Run("label-lookup", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			m.httpRequests.WithLabelValues("/v1/access-token", "POST", strconv.Itoa(200)).Inc()
			m.httpDuration.WithLabelValues("/v1/access-token", "POST").Observe(time.Millisecond.Seconds())
		}
	})
}
