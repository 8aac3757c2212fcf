package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/clientip"
	"github.com/auth-manager/auth-manager/internal/reqctx"
)

// TestRequestContextThroughHTTPLayer: the request id, the client IP and the caller the
// HTTP layer finds are in the context of the handler and of what it calls.
func TestRequestContextThroughHTTPLayer(t *testing.T) {
	type seen struct {
		id, ip string
		c      caller.Caller
		ok     bool
	}
	var got seen
	ew := errorWriter{log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	h := withRequestID(clientip.Resolver{})(requireCaller(anyCaller{}, nil, ew)(
		http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			c, ok := reqctx.Caller(ctx)
			got = seen{reqctx.RequestID(ctx), reqctx.ClientIP(ctx), c, ok}
		})))
	req := httptest.NewRequest(http.MethodGet, "/v1/validate-token", nil)
	req.RemoteAddr = "203.0.113.7:5000"
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("X-Request-ID", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	want := seen{"req-1", "203.0.113.7", caller.Caller{Subject: "s", ClientID: "c"}, true}
	assert.Equal(t, want, got)

	// A caller already in the context (a test, a job) is shadowed by the authenticated one.
	req = req.WithContext(reqctx.WithCaller(context.Background(), caller.Caller{Subject: "job"}))
	got = seen{}
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, want, got)
}
