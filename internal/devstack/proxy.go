package devstack

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// KeycloakProxy is a reverse proxy on a loopback port in front of a Keycloak, to be a
// service's KEYCLOAK_URL: it passes every request on with Keycloak's own Host (so that
// issuers do not change), counts the refresh grants, by the Keycloak session of the
// token presented too, and holds each grant for its delay first: a Keycloak as slow as
// a test or a benchmark needs.
type KeycloakProxy struct {
	URL string // http://127.0.0.1:port

	srv                        *http.Server
	delay, refreshes, inFlight atomic.Int64
	maxInFlight, maxSinceTaken atomic.Int64
	mu                         sync.Mutex
	bySession                  map[string]int
}

// StartKeycloakProxy starts a proxy to the Keycloak at base, without delay.
func StartKeycloakProxy(base string) (*KeycloakProxy, error) {
	target, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &KeycloakProxy{URL: "http://" + ln.Addr().String(), bySession: map[string]int{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sid, ok := refreshGrant(r); ok {
			p.refreshes.Add(1)
			p.mu.Lock()
			p.bySession[sid]++
			p.mu.Unlock()
			n := p.inFlight.Add(1)
			defer p.inFlight.Add(-1)
			raise(&p.maxInFlight, n)
			raise(&p.maxSinceTaken, n)
			select {
			case <-time.After(time.Duration(p.delay.Load())):
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// raise sets m to n if n is larger.
func raise(m *atomic.Int64, n int64) {
	for old := m.Load(); n > old && !m.CompareAndSwap(old, n); old = m.Load() {
	}
}

// SetDelay changes how long refresh grants are held.
func (p *KeycloakProxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Refreshes is how many refresh grants came since the start.
func (p *KeycloakProxy) Refreshes() int64 { return p.refreshes.Load() }

// MaxInFlight is the most refresh grants held or passed on at once since the start.
func (p *KeycloakProxy) MaxInFlight() int64 { return p.maxInFlight.Load() }

// TakeGrants returns the refresh grants counted per session (sid) and the most at once
// since the last call (or the start), and starts both counts afresh.
func (p *KeycloakProxy) TakeGrants() (bySession map[string]int, maxInFlight int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.bySession
	p.bySession = map[string]int{}
	return out, p.maxSinceTaken.Swap(p.inFlight.Load())
}

// Close stops the proxy and closes its connections.
func (p *KeycloakProxy) Close() { _ = p.srv.Close() }

// refreshGrant reports whether r is a refresh_token grant and names the session of the
// token it presents, leaving the body readable.
func refreshGrant(r *http.Request) (sid string, ok bool) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/token") || r.Body == nil {
		return "", false
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return "", false
	}
	form, _ := url.ParseQuery(string(b))
	if form.Get("grant_type") != "refresh_token" {
		return "", false
	}
	return SessionOf(form.Get("refresh_token")), true
}

// SessionOf is the sid claim of a JWT, read without verifying it ("" when there is
// none): for counting, never for trusting.
func SessionOf(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		SID string `json:"sid"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.SID
}
