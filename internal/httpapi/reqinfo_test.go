package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/clientip"
	"github.com/auth-manager/auth-manager/internal/requestid"
)

// authChain is the HTTP layer's part of an authenticated route: withRequestID, then
// requireCaller (anyCaller), then next; mark records the request each one hands on.
func authChain(next http.Handler, mark func(http.Handler) http.Handler) http.Handler {
	ew := errorWriter{log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	return mark(withRequestID(clientip.Resolver{})(mark(requireCaller(anyCaller{}, nil, ew)(mark(next)))))
}

// TestAuthenticatedRequestCopiedOnce: withRequestID copies the request once (to give
// it the context holding the id, the IP and later the caller); requireCaller hands on
// the very request it got.
func TestAuthenticatedRequestCopiedOnce(t *testing.T) {
	var seen []*http.Request
	mark := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = append(seen, r)
			next.ServeHTTP(w, r)
		})
	}
	h := authChain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), mark)
	req := httptest.NewRequest(http.MethodGet, "/v1/validate-token", nil)
	req.Header.Set("Authorization", "Bearer x")
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.Len(t, seen, 3)
	assert.NotSame(t, seen[0], seen[1], "withRequestID gives the request its context")
	assert.Same(t, seen[1], seen[2], "requireCaller sets the caller without a copy")

	// Allocations of the whole chain with a sane X-Request-ID: the context value (which
	// also backs the echoed header's value) and the request's copy; it was 9.
	req.Header.Set("X-Request-ID", "req-1")
	w := &nopWriter{h: http.Header{}}
	h = authChain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		func(next http.Handler) http.Handler { return next })
	allocs := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) })
	assert.LessOrEqual(t, allocs, 2.0)
}

// TestReadersThroughHTTPLayer: requestid.From, clientip.From and caller.From see the
// values the HTTP layer sets, in the handler and in what it calls, as they see the
// values of the old With functions.
func TestReadersThroughHTTPLayer(t *testing.T) {
	type seen struct {
		id, ip string
		c      caller.Caller
		ok     bool
	}
	read := func(ctx context.Context) seen {
		c, ok := caller.From(ctx)
		return seen{requestid.From(ctx), clientip.From(ctx), c, ok}
	}
	var got seen
	h := authChain(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = read(r.Context()) }),
		func(next http.Handler) http.Handler { return next })
	req := httptest.NewRequest(http.MethodGet, "/v1/validate-token", nil)
	req.RemoteAddr = "203.0.113.7:5000"
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("X-Request-ID", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	want := seen{"req-1", "203.0.113.7", caller.Caller{Subject: "s", ClientID: "c"}, true}
	assert.Equal(t, want, got, "through the HTTP layer")

	ctx := caller.With(clientip.With(requestid.With(context.Background(), "req-1"), "203.0.113.7"),
		caller.Caller{Subject: "s", ClientID: "c"})
	assert.Equal(t, want, read(ctx), "through the With functions")
	assert.Equal(t, seen{}, read(context.Background()))

	// A caller already in the context (a test, a job) is shadowed by the authenticated
	// one, as when requireCaller wrapped the context.
	req = req.WithContext(caller.With(context.Background(), caller.Caller{Subject: "job"}))
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, want, got)
}

// nopWriter is a reusable ResponseWriter that allocates nothing.
type nopWriter struct{ h http.Header }

func (n *nopWriter) Header() http.Header         { return n.h }
func (n *nopWriter) WriteHeader(int)             {}
func (n *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
