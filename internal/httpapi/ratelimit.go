package httpapi

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/go-chi/httprate"

	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/reqctx"
)

// Edge configures what the HTTP layer trusts about its peers and how it limits them.
type Edge struct {
	TrustedProxies []netip.Prefix // peers whose X-Forwarded-For is believed
	// RateLimit is the number of failed requests per client IP and Window on each
	// limited surface before 429 rate_limited; 0 disables the limits.
	RateLimit int
	Window    time.Duration
}

// failureLimiter counts one surface's failed requests per client IP (a sliding window,
// go-chi/httprate's counter). Only failures count: a client that authenticates is
// never limited, however busy, and one that keeps failing is stopped before its
// requests can cost anything (a signature check, a Keycloak call). A nil
// *failureLimiter limits nothing.
type failureLimiter struct {
	rl     *httprate.RateLimiter
	limit  int
	window time.Duration
}

func newFailureLimiter(e Edge) *failureLimiter {
	if e.RateLimit <= 0 || e.Window <= 0 {
		return nil
	}
	// No X-RateLimit-* headers: they would tell an attacker exactly how much is left.
	rl := httprate.NewRateLimiter(e.RateLimit, e.Window, httprate.WithResponseHeaders(httprate.ResponseHeaders{}))
	return &failureLimiter{rl: rl, limit: e.RateLimit, window: e.Window}
}

// refuse answers 429 and reports true when r's client is over the limit.
func (l *failureLimiter) refuse(w http.ResponseWriter, r *http.Request, ew errorWriter) bool {
	if l == nil {
		return false
	}
	_, rate, err := l.rl.Status(reqctx.ClientIP(r.Context()))
	if err != nil || rate < float64(l.limit) {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(l.window.Seconds())))
	ew.write(w, r, errRateLimited)
	return true
}

// errRateLimited is 429 rate_limited: the client's IP is over a failure limit.
var errRateLimited = problem.New(http.StatusTooManyRequests, "rate_limited",
	"Too many failed requests from this address; retry later")

// failed counts one failed request of r's client.
func (l *failureLimiter) failed(r *http.Request) {
	if l != nil {
		l.rl.OnLimit(discardHeaders{}, r, reqctx.ClientIP(r.Context()))
	}
}

// limitFailures guards a handler without authentication: a client over the limit gets
// 429, and every 4xx answer the handler gives counts as a failure.
func limitFailures(l *failureLimiter, ew errorWriter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if l == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if l.refuse(w, r, ew) {
				return
			}
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			if rec.status >= 400 && rec.status < 500 {
				l.failed(r)
			}
		})
	}
}

// discardHeaders is a ResponseWriter for httprate's bookkeeping call, whose headers
// are not wanted.
type discardHeaders struct{}

func (discardHeaders) Header() http.Header         { return http.Header{} }
func (discardHeaders) Write(b []byte) (int, error) { return len(b), nil }
func (discardHeaders) WriteHeader(int)             {}
