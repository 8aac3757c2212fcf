package keycloak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// maxBody bounds what is read from any Keycloak answer.
const maxBody = 1 << 20

// Options configures the client.
type Options struct {
	IssuerURL string // {public base}/realms/{realm}: the iss every token must carry
	// ConnectURL, when set and not IssuerURL, is the same realm at the address the
	// service reaches Keycloak by ({KEYCLOAK_URL}/realms/{realm}): discovery is fetched
	// there and the back-channel endpoints it lists are rewritten to it, while the
	// browser's endpoints stay on IssuerURL (see endpoints.go).
	ConnectURL   string
	BaseURL      string // {base} the service connects to, for the admin API
	Realm        string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Timeout      time.Duration // per call, including discovery
	// WrapTransport, when set, wraps the HTTP transport (tests count calls with it).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Observe, when set, is told every call's operation, outcome ("ok", "refused",
	// "server_error", "unavailable") and duration, for metrics.
	Observe func(op, outcome string, d time.Duration)
}

// Client talks to one Keycloak realm as the service's confidential client. It is safe
// for concurrent use. Discovery is lazy and retried until it succeeds once, so the
// service starts (and reports itself) while Keycloak is still down.
type Client struct {
	opt  Options
	http *http.Client
	log  *slog.Logger

	mu          sync.Mutex // guards dis
	dis         *discovered
	discovering singleflight.Group
}

// discovered is what the realm's discovery document told us (endpoints rewritten for
// ConnectURL).
type discovered struct {
	provider   *oidc.Provider
	introspect string
	revoke     string
	endSession string
	jwks       string // the realm's JWKS, at the address the service connects to
}

// New returns a client. It makes no network call.
func New(opt Options, log *slog.Logger) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 128
	tr.ResponseHeaderTimeout = opt.Timeout
	tr.DialContext = (&net.Dialer{Timeout: min(opt.Timeout, 5*time.Second), KeepAlive: 30 * time.Second}).DialContext
	var rt http.RoundTripper = tr
	if opt.Observe == nil {
		opt.Observe = func(string, string, time.Duration) {}
	}
	if opt.WrapTransport != nil {
		rt = opt.WrapTransport(rt)
	}
	return &Client{
		opt:  opt,
		http: &http.Client{Transport: rt, Timeout: opt.Timeout, CheckRedirect: noRedirects},
		log:  log,
	}
}

// outcome classifies a call's result for metrics.
func outcome(err error) string {
	var e *Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &e) && e.Status >= 500:
		return "server_error"
	case errors.As(err, &e):
		return "refused"
	}
	return "unavailable"
}

// noRedirects keeps credentials from following a redirect to another host.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// HTTPClient is the shared client, for go-oidc and oauth2 contexts.
func (c *Client) HTTPClient() *http.Client { return c.http }

// Options returns the client's configuration.
func (c *Client) Options() Options { return c.opt }

// discover returns the realm's discovery document, fetching it on first use.
func (c *Client) discover(ctx context.Context) (*discovered, error) {
	c.mu.Lock()
	d := c.dis
	c.mu.Unlock()
	if d != nil {
		return d, nil
	}
	// Callers that come while a discovery is in flight share its outcome instead of
	// queuing one attempt after another (each up to Timeout) while Keycloak is down.
	ch := c.discovering.DoChan("discovery", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opt.Timeout)
		defer cancel()
		start := time.Now()
		d, err := c.fetchDiscovery(oidc.ClientContext(ctx, c.http))
		c.opt.Observe("discovery", map[bool]string{true: "ok", false: "unavailable"}[err == nil], time.Since(start))
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.dis = d
		c.mu.Unlock()
		return d, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: discovery: %v", ErrUnavailable, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*discovered), nil
	}
}

// Provider returns the realm's OIDC provider (discovery document and JWKS).
func (c *Client) Provider(ctx context.Context) (*oidc.Provider, error) {
	d, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	return d.provider, nil
}

// OAuth2 returns the oauth2 configuration of the service's confidential client.
func (c *Client) OAuth2(ctx context.Context, scopes ...string) (*oauth2.Config, error) {
	p, err := c.Provider(ctx)
	if err != nil {
		return nil, err
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &oauth2.Config{ClientID: c.opt.ClientID, ClientSecret: c.opt.ClientSecret,
		Endpoint: ep, RedirectURL: c.opt.RedirectURL, Scopes: scopes}, nil
}

// Introspect asks Keycloak about token (RFC 7662). hint is "access_token" or
// "refresh_token". An inactive token is not an error: Claims.Active is false.
func (c *Client) Introspect(ctx context.Context, token, hint string) (Claims, error) {
	d, err := c.discover(ctx)
	if err != nil {
		return Claims{}, err
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	body, err := c.postForm(ctx, "introspect", d.introspect, form)
	if err != nil {
		return Claims{}, err
	}
	var cl Claims
	if err := json.Unmarshal(body, &cl); err != nil {
		return Claims{}, &Error{Op: "introspect", Status: http.StatusOK, Code: "malformed_response",
			Description: "introspection answer is not JSON"}
	}
	return cl, nil
}

// Revoke revokes a refresh or offline token (RFC 7009). Keycloak answers 200 for
// unknown tokens, so success means "this token can no longer be used".
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	d, err := c.discover(ctx)
	if err != nil {
		return err
	}
	if d.revoke == "" {
		return &Error{Op: "revoke", Code: "unsupported", Description: "realm advertises no revocation_endpoint"}
	}
	_, err = c.postForm(ctx, "revoke", d.revoke, url.Values{"token": {token}, "token_type_hint": {hint}})
	return err
}

// postForm POSTs a form with the client's credentials (HTTP Basic) and returns the
// body of a 2xx answer, or a classified error.
func (c *Client) postForm(ctx context.Context, op, endpoint string, form url.Values) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("keycloak: %s: build request: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(c.opt.ClientID), url.QueryEscape(c.opt.ClientSecret))
	return c.do(req, op)
}

// do sends req and classifies the outcome.
func (c *Client) do(req *http.Request, op string) (body []byte, err error) {
	start := time.Now()
	resp, err := c.http.Do(req)
	defer func() { c.opt.Observe(op, outcome(err), time.Since(start)) }()
	if err != nil {
		c.log.WarnContext(req.Context(), "keycloak call failed", "op", op, "duration_ms", time.Since(start).Milliseconds(), "error", transportMessage(err))
		return nil, fmt.Errorf("%w: %s: %s", ErrUnavailable, op, transportMessage(err))
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: reading answer: %s", ErrUnavailable, op, transportMessage(err))
	}
	if resp.StatusCode/100 != 2 {
		kerr := newError(op, resp.StatusCode, body)
		c.log.WarnContext(req.Context(), "keycloak refused", "op", op, "status", resp.StatusCode, "error", kerr.Code)
		return nil, kerr
	}
	return body, nil
}

// transportMessage describes a transport error without the URL (url.Error quotes it,
// and a URL could one day carry a query we would rather not log).
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}
