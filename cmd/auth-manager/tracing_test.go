package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestTracingExports runs serve with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a stand-in
// collector: the spans of a request arrive as OTLP/HTTP protobuf at /v1/traces.
func TestTracingExports(t *testing.T) {
	var mu sync.Mutex
	var posts []string // content types of the exports received
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			mu.Lock()
			posts = append(posts, r.Header.Get("Content-Type"))
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	cfg := testenv.NewServiceConfig(t)
	cfg.Tracing.Endpoint = collector.URL
	p := testenv.StartProcess(t, cfg)
	resp := p.Do(t, http.MethodGet, "/version", "", nil)
	require.Equal(t, http.StatusOK, resp.Status)
	// The batcher exports every 5 s.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(posts) > 0
	}, 15*time.Second, 100*time.Millisecond, "no export arrived; log:\n%s", p.Logs)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "application/x-protobuf", posts[0])
	assert.Contains(t, p.Logs.String(), `"msg":"tracing on"`)
	// The access line (written through the buffered access-log sink) names the trace.
	assert.Regexp(t, `"msg":"http request".*"path":"/version".*"trace_id":"[0-9a-f]{32}"`, p.Logs.String())
}
