package httpapi

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
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

// failureLimiter counts one surface's failed requests per client (a sliding window,
// go-chi/httprate's counter) and refuses a client over the limit. On the bearer and
// back-channel surfaces it sees only requests whose proof failed a check made here,
// without Keycloak: a bearer token the realm's keys do not verify (or expired), a
// logout token whose signature does not verify. A token the realm signed is never
// counted or refused, so a flood of garbage from an address (a NAT, an ingress) cannot
// lock out the genuine callers behind it, nor Keycloak's own logout notices. The
// consent callback, which carries no token of the realm's, counts every refusal and
// turns a client over the limit away before its state is looked at.
// A nil *failureLimiter limits nothing.
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

// errRateLimited is 429 rate_limited: the client is over a failure limit.
var errRateLimited = problem.New(http.StatusTooManyRequests, "rate_limited",
	"Too many failed requests from this address; retry later")

// refused answers a request that failed a local check: 429 rate_limited (with
// Retry-After) when its client is over the limit, otherwise err, counting the failure.
func (l *failureLimiter) refused(w http.ResponseWriter, r *http.Request, ew errorWriter, err error) {
	if l.overElseCount(r) {
		l.retryAfter(w)
		err = errRateLimited
	}
	ew.write(w, r, err)
}

// overElseCount reports whether r's client is over the limit, and counts a failure of
// it when it is not (one step: concurrent failures cannot overshoot the limit).
func (l *failureLimiter) overElseCount(r *http.Request) bool {
	return l != nil && l.rl.OnLimit(discardHeaders{}, r, bucket(reqctx.ClientIP(r.Context())))
}

// over reports whether r's client is over the limit (its next failure would be
// refused), counting nothing.
func (l *failureLimiter) over(r *http.Request) bool {
	if l == nil {
		return false
	}
	_, rate, err := l.rl.Status(bucket(reqctx.ClientIP(r.Context())))
	return err == nil && int(math.Round(rate)) >= l.limit
}

// count counts one failure of r's client.
func (l *failureLimiter) count(r *http.Request) { _ = l.overElseCount(r) }

// retryAfter says when to try again: after a whole window the failures counted now
// no longer count.
func (l *failureLimiter) retryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(l.window.Seconds())))
}

// bucket is the client whose failures are counted together: the address of an IPv4
// client, the /64 of an IPv6 one (a single host is commonly given a whole /64, and
// could otherwise start afresh from each of its 2^64 addresses).
func bucket(ip string) string {
	if !strings.Contains(ip, ":") {
		return ip // IPv4, or not an address: as it is, without parsing
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// discardHeaders is a ResponseWriter for httprate's bookkeeping call, whose headers
// are not wanted.
type discardHeaders struct{}

func (discardHeaders) Header() http.Header         { return http.Header{} }
func (discardHeaders) Write(b []byte) (int, error) { return len(b), nil }
func (discardHeaders) WriteHeader(int)             {}
