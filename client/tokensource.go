package client

import (
	"context"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// DefaultMinTTL is how long a token from TokenSource must still live to be reused,
// unless WithMinTTL says otherwise: long enough for one downstream call.
const DefaultMinTTL = 30 * time.Second

// TokenOption adjusts AccessToken and TokenSource.
type TokenOption func(*tokenOpts)

type tokenOpts struct {
	minTTL   time.Duration
	set      bool // minTTL was given
	audience string
	scopes   []string
}

// WithMinTTL asks for a token that lives at least d more (0–1 h, whole seconds,
// rounded up): the service refreshes rather than serve a cached token that expires
// sooner, and TokenSource fetches a new one when its token has less than d left.
func WithMinTTL(d time.Duration) TokenOption {
	return func(o *tokenOpts) { o.minTTL, o.set = max(d, 0), true }
}

// WithAudience asks for a token narrowed to one downstream service: auth-manager
// exchanges the user's token at Keycloak (RFC 8693 standard token exchange) for one
// whose aud is only audience, a client id of the realm (e.g. "orders-api"). The realm
// must make that audience available to auth-manager's client; otherwise the call fails
// with ErrKeycloak, and Details carries Keycloak's error and error_description. The
// client also checks the token it gets: a token whose aud is not exactly audience is
// an error, never returned.
func WithAudience(audience string) TokenOption {
	return func(o *tokenOpts) { o.audience = audience }
}

// WithScope asks for these optional client scopes in a narrowed token (only with
// WithAudience); Keycloak always adds the client's default scopes.
func WithScope(scopes ...string) TokenOption {
	return func(o *tokenOpts) { o.scopes = append(o.scopes, scopes...) }
}

func tokenOptions(opts []TokenOption) tokenOpts {
	var o tokenOpts
	for _, f := range opts {
		f(&o)
	}
	return o
}

// query is the access-token request's query for the stored token id.
func (o tokenOpts) query(id string) url.Values {
	q := url.Values{"id": {id}}
	if o.set {
		s := min(int(math.Ceil(o.minTTL.Seconds())), 3600)
		q.Set("min_ttl", strconv.Itoa(s))
	}
	if o.audience != "" {
		q.Set("audience", o.audience)
	}
	if len(o.scopes) > 0 {
		q.Set("scope", strings.Join(o.scopes, " "))
	}
	return q
}

// TokenSource returns a token source for the stored token id: the user's access
// tokens, minted by auth-manager and reused while they live longer than the minimum
// lifetime (DefaultMinTTL, or WithMinTTL), so that
//
//	http := oauth2.NewClient(ctx, c.TokenSource(ctx, id))
//
// calls another service as the user without ever thinking about refreshes. ctx is
// used for the calls to auth-manager the source makes, as with
// oauth2.Config.TokenSource; cancel it and the source fails. Errors are *Error: an
// ErrKeycloak with Reason "invalid_grant" or ErrTokenUnusable means the stored token is
// dead and the user must sign in (or consent) again.
func (c *Client) TokenSource(ctx context.Context, id string, opts ...TokenOption) oauth2.TokenSource {
	o := tokenOptions(opts)
	if !o.set {
		o.minTTL, o.set = DefaultMinTTL, true
	}
	return oauth2.ReuseTokenSourceWithExpiry(nil, &storedSource{c: c, ctx: ctx, id: id, opts: o}, o.minTTL)
}

// storedSource asks auth-manager for every token; ReuseTokenSourceWithExpiry in front
// of it reuses them.
type storedSource struct {
	c    *Client
	ctx  context.Context
	id   string
	opts tokenOpts
}

func (s *storedSource) Token() (*oauth2.Token, error) {
	start := s.c.now()
	a, err := s.c.accessToken(s.ctx, s.id, s.opts)
	if err != nil {
		return nil, err
	}
	typ := a.TokenType
	if typ == "" {
		typ = "Bearer"
	}
	// Counted from before the request, so the token is never thought to live longer
	// than it does.
	return &oauth2.Token{AccessToken: a.AccessToken, TokenType: typ,
		Expiry: start.Add(time.Duration(a.ExpiresIn) * time.Second), ExpiresIn: int64(a.ExpiresIn)}, nil
}
