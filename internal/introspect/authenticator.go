package introspect

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/sync/singleflight"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
)

// Sentinel errors. Both answer 401; they differ in the envelope's code.
var (
	// ErrUnauthorized: no usable token (malformed, bad signature, wrong issuer or client).
	ErrUnauthorized = problem.New(http.StatusUnauthorized, "unauthorized", "Invalid or missing bearer token")
	// ErrNotActive: Keycloak says the token is not active (expired, revoked, logged out).
	ErrNotActive = problem.New(http.StatusUnauthorized, "token_not_active", "Token is not active")
)

// Keycloak is what the authenticator needs from the Keycloak client.
type Keycloak interface {
	Introspect(ctx context.Context, token, hint string) (keycloak.Claims, error)
	Provider(ctx context.Context) (*oidc.Provider, error)
}

// Options configures an Authenticator.
type Options struct {
	Mode           string        // "introspect" or "jwt"
	ServiceRole    string        // role that makes a service caller
	ClientID       string        // the service's client, whose client roles count too
	CacheTTL       time.Duration // reuse of an accepted token's claims (both modes); 0 disables the cache
	CacheSize      int           // bound on cached tokens
	AllowedClients []string      // jwt mode; empty allows any client of the realm
	Now            func() time.Time
	// Issuer is the iss an introspected token must carry ("" skips the check). Keycloak
	// reached at an internal address (KEYCLOAK_URL) would call a token issued under that
	// address active too; jwt mode checks it through the provider.
	Issuer string
}

// Authenticator turns bearer tokens into callers. Safe for concurrent use.
type Authenticator struct {
	opt   Options
	kc    Keycloak
	cache *cache

	// One verifier for the process: it checks signatures against the provider's shared
	// key set, which keeps the realm's keys and fetches the JWKS again only for a key it
	// does not hold. (Provider.VerifierContext builds a new, empty key set per call: one
	// JWKS download per request.)
	vmu      sync.Mutex
	verifier *oidc.IDTokenVerifier
	vfor     *oidc.Provider

	flight singleflight.Group // concurrent introspections of one token
}

// New returns an Authenticator.
func New(kc Keycloak, opt Options) *Authenticator {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.CacheSize <= 0 {
		opt.CacheSize = 10000
	}
	return &Authenticator{opt: opt, kc: kc, cache: newCache(opt.CacheSize)}
}

// Authenticate validates token and returns its caller.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (caller.Caller, error) {
	if !looksLikeJWT(token) {
		// Keycloak issues JWTs only; anything else is refused without a network call.
		return caller.Caller{}, ErrUnauthorized
	}
	var (
		cl  keycloak.Claims
		err error
	)
	if a.opt.Mode == "jwt" {
		cl, err = a.verify(ctx, token)
	} else {
		cl, err = a.introspect(ctx, token)
	}
	if err != nil {
		return caller.Caller{}, err
	}
	if cl.Subject == "" {
		return caller.Caller{}, ErrUnauthorized
	}
	return caller.Caller{
		Subject:   cl.Subject,
		SessionID: cl.SessionID,
		ClientID:  cl.Client(),
		Username:  cl.Name(),
		Scope:     cl.Scope,
		ExpiresAt: cl.Expiry,
		Service:   cl.HasRole(a.opt.ServiceRole, a.opt.ClientID),
	}, nil
}

func (a *Authenticator) introspect(ctx context.Context, token string) (keycloak.Claims, error) {
	key, now := sha256.Sum256([]byte(token)), a.opt.Now()
	if cl, ok := a.cached(key, now); ok {
		return cl, nil
	}
	// Requests presenting the same token share one introspection: when a busy token's
	// entry expires, every request in flight with it would otherwise ask Keycloak at once
	// (issue 9: some 400 calls in 6 s at 500 connections over 16 tokens). The call is
	// detached from this caller's cancellation, since others wait for it; the Keycloak
	// client bounds it by its timeout.
	ch := a.flight.DoChan(string(key[:]), func() (any, error) {
		return a.askKeycloak(context.WithoutCancel(ctx), token, key, now)
	})
	select {
	case <-ctx.Done():
		return keycloak.Claims{}, fmt.Errorf("%w: introspect: %v", keycloak.ErrUnavailable, context.Cause(ctx))
	case r := <-ch:
		if r.Err != nil {
			return keycloak.Claims{}, r.Err
		}
		return r.Val.(keycloak.Claims), nil
	}
}

// askKeycloak introspects token and caches a positive answer.
func (a *Authenticator) askKeycloak(ctx context.Context, token string, key [32]byte, now time.Time) (keycloak.Claims, error) {
	cl, err := a.kc.Introspect(ctx, token, "access_token")
	var ke *keycloak.Error
	if errors.As(err, &ke) && ke.Status == 400 {
		// Keycloak answers 400 "Failed to introspect token" for some malformed tokens
		// (alg "none"): the caller's token is at fault, not Keycloak.
		return keycloak.Claims{}, ErrUnauthorized
	}
	if err != nil {
		return keycloak.Claims{}, err
	}
	if !cl.Active {
		return keycloak.Claims{}, ErrNotActive
	}
	if a.opt.Issuer != "" && cl.Issuer != a.opt.Issuer {
		return keycloak.Claims{}, ErrUnauthorized
	}
	if cl.Type != "" && cl.Type != "Bearer" {
		// An ID token or a refresh token presented as a bearer token.
		return keycloak.Claims{}, ErrUnauthorized
	}
	a.remember(key, cl, now)
	return cl, nil
}

// cached returns the claims of a token accepted less than CacheTTL ago (and not past
// its exp), keyed by the token's SHA-256.
func (a *Authenticator) cached(key [32]byte, now time.Time) (keycloak.Claims, bool) {
	if a.opt.CacheTTL <= 0 {
		return keycloak.Claims{}, false
	}
	return a.cache.get(key, now)
}

// remember caches an accepted token's claims for CacheTTL, never past its exp.
func (a *Authenticator) remember(key [32]byte, cl keycloak.Claims, now time.Time) {
	if a.opt.CacheTTL <= 0 {
		return
	}
	until := now.Add(a.opt.CacheTTL)
	if exp := time.Unix(cl.Expiry, 0); cl.Expiry > 0 && exp.Before(until) {
		until = exp
	}
	a.cache.put(key, cl, until, now)
}

// verify checks the token locally. A token it accepted is remembered like an
// introspection answer: the same signature check against the same keys would accept
// it again until its exp, and the check (RSA, two JSON decodings, go-jose's parsing)
// is most of a jwt-mode request's CPU.
func (a *Authenticator) verify(ctx context.Context, token string) (keycloak.Claims, error) {
	key, now := sha256.Sum256([]byte(token)), a.opt.Now()
	if cl, ok := a.cached(key, now); ok {
		return cl, nil
	}
	p, err := a.kc.Provider(ctx)
	if err != nil {
		return keycloak.Claims{}, err
	}
	// The client check is ours (azp or aud against a list): Keycloak access tokens carry
	// aud "account", not the client that asked for them.
	idt, err := a.jwtVerifier(p).Verify(ctx, token)
	if err != nil {
		var expired *oidc.TokenExpiredError
		switch {
		case errors.As(err, &expired):
			return keycloak.Claims{}, ErrNotActive
		case strings.Contains(err.Error(), "fetching keys"):
			// The token's key is not among the cached ones and the JWKS could not be
			// fetched: we cannot judge the token, Keycloak is unavailable.
			return keycloak.Claims{}, fmt.Errorf("%w: jwks: %v", keycloak.ErrUnavailable, err)
		}
		return keycloak.Claims{}, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	var cl keycloak.Claims
	if err := idt.Claims(&cl); err != nil || cl.Type != "Bearer" {
		return keycloak.Claims{}, ErrUnauthorized
	}
	if !a.clientAllowed(cl) {
		return keycloak.Claims{}, ErrUnauthorized
	}
	cl.Active = true
	a.remember(key, cl, now)
	return cl, nil
}

// jwtVerifier returns the verifier for p, built on first use (discovery is lazy).
func (a *Authenticator) jwtVerifier(p *oidc.Provider) *oidc.IDTokenVerifier {
	a.vmu.Lock()
	defer a.vmu.Unlock()
	if a.vfor != p {
		a.verifier, a.vfor = p.Verifier(&oidc.Config{SkipClientIDCheck: true, Now: a.opt.Now}), p
	}
	return a.verifier
}

func (a *Authenticator) clientAllowed(cl keycloak.Claims) bool {
	if len(a.opt.AllowedClients) == 0 {
		return true
	}
	if slices.Contains(a.opt.AllowedClients, cl.AuthorizedParty) {
		return true
	}
	for _, aud := range cl.Audience {
		if slices.Contains(a.opt.AllowedClients, aud) {
			return true
		}
	}
	return false
}

// looksLikeJWT checks the compact JWS shape: three base64url segments, bounded size.
func looksLikeJWT(t string) bool {
	if len(t) < 20 || len(t) > 16<<10 {
		return false
	}
	dots := 0
	for i := 0; i < len(t); i++ {
		switch jwtChar[t[i]] {
		case 0:
			return false
		case '.':
			dots++
		}
	}
	return dots == 2
}

// jwtChar maps the bytes of a compact JWS to non-zero ('.' for the separator): one
// table load per byte, as this runs over every bearer token of every request.
var jwtChar = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			t[c] = 1
		case c == '.':
			t[c] = '.'
		}
	}
	return t
}()
