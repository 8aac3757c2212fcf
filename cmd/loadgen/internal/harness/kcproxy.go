package harness

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

// kcProxy is a reverse proxy in front of Keycloak that the service processes are given
// as KEYCLOAK_URL: it passes every request on with Keycloak's own Host (issuers do not
// change), counts the refresh grants by the Keycloak session of the token presented,
// and holds each grant for its delay first, to play a slow Keycloak.
type kcProxy struct {
	URL      string
	srv      *http.Server
	delay    atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64

	mu    sync.Mutex
	bySID map[string]int
}

func startKCProxy(base string) (*kcProxy, error) {
	target, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &kcProxy{URL: "http://" + ln.Addr().String(), bySID: map[string]int{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sid, ok := refreshGrantSID(r); ok {
			p.mu.Lock()
			p.bySID[sid]++
			p.mu.Unlock()
			n := p.inFlight.Add(1)
			defer p.inFlight.Add(-1)
			for m := p.maxIn.Load(); n > m && !p.maxIn.CompareAndSwap(m, n); m = p.maxIn.Load() {
			}
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

func (p *kcProxy) setDelay(d time.Duration) { p.delay.Store(int64(d)) }

// grants returns the refresh grants counted per session so far and resets the counts
// and the in-flight high-water mark.
func (p *kcProxy) grants() (bySID map[string]int, maxInFlight int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.bySID
	p.bySID = map[string]int{}
	return out, p.maxIn.Swap(p.inFlight.Load())
}

func (p *kcProxy) close() { _ = p.srv.Close() }

// refreshGrantSID reports whether r is a refresh_token grant and names the session of
// the token it presents (the sid claim, read without verifying: the proxy only counts),
// leaving the body readable.
func refreshGrantSID(r *http.Request) (string, bool) {
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
	return sidOf(form.Get("refresh_token")), true
}

// sidOf is the sid claim of a JWT, unverified ("" when there is none).
func sidOf(jwt string) string {
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
