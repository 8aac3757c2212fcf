package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// maxAnswerBytes bounds what the client reads from one answer: every answer of the API
// is far smaller, so more is a misbehaving server or proxy.
const maxAnswerBytes = 4 << 20

// Client calls one auth-manager service as one calling service. It is safe for
// concurrent use; make one per (service URL, caller) and keep it.
type Client struct {
	base      *url.URL
	caller    oauth2.TokenSource
	http      *http.Client
	userAgent string
	retry     RetryPolicy
	now       func() time.Time
}

// Option adjusts a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc (timeouts, proxies,
// TLS, instrumentation). The default is a client with a 30 s timeout per attempt.
// hc must not itself add an Authorization header: the client sets the caller's token.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithUserAgent names the calling service in the User-Agent header, which
// auth-manager's access log records.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithRetry replaces the retry policy (DefaultRetryPolicy); RetryPolicy{} turns retries
// off.
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// New returns a client for the auth-manager at baseURL (e.g. "http://auth-manager:8000";
// a path prefix is kept). caller supplies the calling service's own bearer token for
// every request, typically a clientcredentials.Config's TokenSource; its tokens are
// reused while they are valid. caller may be nil for a service that only ever acts as
// its users (AsUser); its calls without AsUser then fail.
func New(baseURL string, caller oauth2.TokenSource, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q is not an http(s) URL", baseURL)
	}
	if caller != nil {
		caller = oauth2.ReuseTokenSource(nil, caller)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c := &Client{
		base:      u,
		caller:    caller,
		http:      &http.Client{Timeout: 30 * time.Second},
		userAgent: "auth-manager-go-client",
		retry:     DefaultRetryPolicy,
		now:       time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// errNoCaller is the error of a call on a client made without a caller token source.
var errNoCaller = errors.New("client: no caller token source: pass one to New, or call through AsUser")

// AsUser returns a client that makes its calls with the user's access token instead of
// the caller token source: the calls a user makes for themself, with the token of the
// user's request at hand, typically in a backend serving the user's frontend.
// StoreRefreshToken and RefreshStoredToken need it (they act on the token's own
// session), so do OfflineConsentURL and ReissueOfflineToken; Tokens, Sessions,
// DeleteToken and the others then see only that user's tokens and sessions.
//
// The returned client shares c's base URL, HTTP client, retry policy and user agent;
// making one costs a small allocation, so make one per request and drop it. The token
// is sent as it is: when it expires, calls fail with ErrUnauthorized.
func (c *Client) AsUser(accessToken string) *Client {
	u := *c
	u.caller = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"})
	return &u
}

// call is one API request: method, path under the base URL, query, optional JSON body.
type call struct {
	method     string
	path       string
	query      url.Values
	body       any
	idempotent bool // safe to send again: retried on 503 and connection errors
}

// do sends the call (retrying what the policy allows) and decodes the success
// envelope's data into out (nil: ignore it). Failures are *Error.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	if c.caller == nil {
		return errNoCaller
	}
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("client: encoding the request: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, cl, body, out)
		wait, retry := c.retry.next(attempt, cl.idempotent, err)
		if !retry {
			return err
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(wait).After(dl) {
			return err // the answer would come too late anyway
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// once sends one attempt.
func (c *Client) once(ctx context.Context, cl call, body []byte, out any) error {
	u := *c.base
	u.Path += cl.path
	u.RawQuery = cl.query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	tok, err := c.caller.Token()
	if err != nil {
		return fmt.Errorf("client: getting the caller's token: %w", err)
	}
	tok.SetAuthHeader(req)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &Error{Code: CodeUnreachable, Message: "auth-manager did not answer", err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &Error{Code: CodeUnreachable, Status: resp.StatusCode, Message: "reading the answer failed", err: err}
	}
	if resp.StatusCode >= 300 {
		return decodeError(resp, raw)
	}
	if out == nil {
		return nil
	}
	env := struct {
		Data json.RawMessage `json:"data"`
	}{}
	if err := json.Unmarshal(raw, &env); err != nil || len(env.Data) == 0 {
		return &Error{Status: resp.StatusCode, Message: "the answer is not a data envelope", RequestID: resp.Header.Get("X-Request-ID")}
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return &Error{Status: resp.StatusCode, Message: "the answer's data has an unexpected shape: " + err.Error(), RequestID: resp.Header.Get("X-Request-ID")}
	}
	return nil
}
