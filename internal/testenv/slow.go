package testenv

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// KeycloakProxy is a reverse proxy in front of the stack's Keycloak, to be the
// service's KEYCLOAK_URL: it passes every request on (with Keycloak's own Host, so that
// issuers do not change), counts the refresh grants, and holds each one for Delay
// first: a Keycloak as slow as the test needs. It stops when the test ends.
type KeycloakProxy struct {
	URL                 string
	delay               atomic.Int64
	refreshes, inFlight atomic.Int64
	maxInFlight         atomic.Int64
}

// StartKeycloakProxy starts a proxy that delays refresh grants by delay.
func StartKeycloakProxy(t testing.TB, delay time.Duration) *KeycloakProxy {
	t.Helper()
	target, err := url.Parse(KeycloakBase(t))
	Must(t, err, "KEYCLOAK_ISSUER")
	p := &KeycloakProxy{}
	p.SetDelay(delay)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isRefreshGrant(r) {
			p.refreshes.Add(1)
			n := p.inFlight.Add(1)
			defer p.inFlight.Add(-1)
			for m := p.maxInFlight.Load(); n > m && !p.maxInFlight.CompareAndSwap(m, n); m = p.maxInFlight.Load() {
			}
			select {
			case <-time.After(time.Duration(p.delay.Load())):
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// SetDelay changes how long refresh grants are held.
func (p *KeycloakProxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Refreshes is how many refresh grants came so far.
func (p *KeycloakProxy) Refreshes() int64 { return p.refreshes.Load() }

// MaxInFlight is the most refresh grants the proxy held or passed on at once.
func (p *KeycloakProxy) MaxInFlight() int64 { return p.maxInFlight.Load() }

// isRefreshGrant reports whether r is a refresh_token grant, leaving its body readable.
func isRefreshGrant(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/token") &&
		grantType(r) == "refresh_token"
}
