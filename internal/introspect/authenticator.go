package introspect

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
)

// Sentinel errors. Both answer 401; they differ in the envelope's code.
var (
	// ErrUnauthorized: no usable token (malformed, bad signature, wrong issuer or client).
	ErrUnauthorized = problem.New(http.StatusUnauthorized, "unauthorized", "Invalid or missing bearer token")
	// ErrNotActive: the token expired, or Keycloak says it is not active (revoked,
	// logged out), or its session ended here.
	ErrNotActive = problem.New(http.StatusUnauthorized, "token_not_active", "Token is not active")
)

// Auth modes.
const (
	ModeIntrospect = "introspect"
	ModeJWT        = "jwt"
)

// Keycloak is what the authenticator needs from the Keycloak client.
type Keycloak interface {
	Introspect(ctx context.Context, token, hint string) (keycloak.Claims, error)
}

// KeySet checks a token's signature against the realm's keys (keyset.Set).
type KeySet interface {
	VerifySignature(ctx context.Context, raw string) ([]byte, error)
}

// Options configures an Authenticator.
type Options struct {
	Mode   string // ModeIntrospect or ModeJWT
	Issuer string // the realm's issuer; a token from anywhere else is refused locally
	// ServiceRole and ServiceClients make a service caller: the role (a realm role, or a
	// client role of ClientID) on a token issued to (azp) one of ServiceClients.
	ServiceRole    string
	ServiceClients []string
	ClientID       string        // the service's client, whose client roles count too
	AllowedClients []string      // azp or aud must be one of these; empty allows any client of the realm
	CacheTTL       time.Duration // reuse of an answer (both modes, active or not); 0 disables the cache
	CacheSize      int           // bound on cached tokens (and on remembered ended sessions ×10)
	// WaitForFeed leaves the cache untrusted until SetFeedUp(true): without the feed of
	// ended sessions, a session ended on another replica would go unnoticed here.
	WaitForFeed bool
	Now         func() time.Time
}

// Authenticator turns bearer tokens into callers. Safe for concurrent use.
type Authenticator struct {
	opt     Options
	kc      Keycloak
	keys    KeySet
	cache   *cache
	ended   *endedSessions
	users   *endedUsers
	trusted atomic.Bool // the cache may be used (the ended-session feed is up)

	flight singleflight.Group // concurrent introspections of one token
}

// New returns an Authenticator.
func New(kc Keycloak, keys KeySet, opt Options) *Authenticator {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.CacheSize <= 0 {
		opt.CacheSize = 10000
	}
	a := &Authenticator{opt: opt, kc: kc, keys: keys, cache: newCache(opt.CacheSize), ended: newEndedSessions(opt.CacheSize * 10),
		users: newEndedUsers(opt.CacheSize * 10)}
	a.trusted.Store(!opt.WaitForFeed)
	return a
}

// Authenticate validates token and returns its caller. Every token is checked locally
// first (shape, signature, issuer, type, exp); only one that passes may cost a Keycloak
// call.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (caller.Caller, error) {
	now := a.opt.Now()
	cl, err := a.claims(ctx, token, now)
	if err != nil {
		return caller.Caller{}, err
	}
	if cl.Subject == "" || !a.clientAllowed(cl) {
		return caller.Caller{}, ErrUnauthorized
	}
	if a.ended.has(cl.SessionID, cl.Client(), now) || a.userSessionOver(cl, now) {
		return caller.Caller{}, ErrNotActive
	}
	return caller.Caller{
		Subject:   cl.Subject,
		SessionID: cl.SessionID,
		ClientID:  cl.Client(),
		Username:  cl.Name(),
		Scope:     cl.Scope,
		ExpiresAt: cl.Expiry,
		Service:   cl.HasRole(a.opt.ServiceRole, a.opt.ClientID) && slices.Contains(a.opt.ServiceClients, cl.Client()),
	}, nil
}

// claims returns the token's claims: from the cache, or checked locally and then (in
// introspect mode) confirmed by Keycloak.
func (a *Authenticator) claims(ctx context.Context, token string, now time.Time) (keycloak.Claims, error) {
	key := tokenKey(token)
	if e, ok := a.cached(key, now); ok {
		return e.claims, e.err
	}
	// A token failing here is not cached: it cost no network call, and caching it would
	// let anyone fill the cache.
	local, err := a.precheck(ctx, token, now)
	if err != nil {
		return keycloak.Claims{}, err
	}
	if a.opt.Mode == ModeJWT {
		local.Active = true
		a.remember(key, entry{claims: local}, local.Expiry, now)
		return local, nil
	}
	// Requests presenting the same token share one introspection: when a busy token's
	// entry expires, every request in flight with it would otherwise ask Keycloak at once.
	// The call is detached from this caller's cancellation, since others wait
	// for it; the Keycloak client bounds it by its timeout.
	ch := a.flight.DoChan(string(key[:]), func() (any, error) {
		// A flight that just landed may have answered while this request was in its
		// local check: the cache has it then.
		if e, ok := a.cached(key, now); ok {
			return e.claims, e.err
		}
		return a.askKeycloak(context.WithoutCancel(ctx), token, key, local, now)
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

// askKeycloak introspects token and caches the answer, active or not, until exp at most.
func (a *Authenticator) askKeycloak(ctx context.Context, token string, key [32]byte, local keycloak.Claims, now time.Time) (keycloak.Claims, error) {
	cl, err := a.kc.Introspect(ctx, token, "access_token")
	var ke *keycloak.Error
	if errors.As(err, &ke) && ke.Status == 400 {
		// Keycloak answers 400 "Failed to introspect token" for some malformed tokens:
		// the caller's token is at fault, not Keycloak.
		return keycloak.Claims{}, ErrUnauthorized
	}
	if err != nil {
		return keycloak.Claims{}, err
	}
	if !cl.Active {
		// A token Keycloak no longer accepts never becomes active again.
		a.remember(key, entry{err: ErrNotActive}, local.Expiry, now)
		return keycloak.Claims{}, ErrNotActive
	}
	if a.opt.Issuer != "" && cl.Issuer != a.opt.Issuer {
		return keycloak.Claims{}, ErrUnauthorized
	}
	if cl.Type != "" && cl.Type != "Bearer" {
		return keycloak.Claims{}, ErrUnauthorized
	}
	if cl.SessionID == "" {
		cl.SessionID = local.SessionID // the signed token's, for the ended-session checks
	}
	if cl.IssuedAt == 0 {
		cl.IssuedAt = local.IssuedAt
	}
	a.remember(key, entry{claims: cl}, local.Expiry, now)
	return cl, nil
}

// cached returns a cached answer, when caching is on and the cache is trusted.
func (a *Authenticator) cached(key [32]byte, now time.Time) (entry, bool) {
	if a.opt.CacheTTL <= 0 || !a.trusted.Load() {
		return entry{}, false
	}
	return a.cache.get(key, now)
}

// remember caches an answer for CacheTTL, never past the token's exp.
func (a *Authenticator) remember(key [32]byte, e entry, exp int64, now time.Time) {
	if a.opt.CacheTTL <= 0 || !a.trusted.Load() {
		return
	}
	e.until = now.Add(a.opt.CacheTTL)
	if t := time.Unix(exp, 0); exp > 0 && t.Before(e.until) {
		e.until = t
	}
	a.cache.put(key, e, now)
}

func (a *Authenticator) clientAllowed(cl keycloak.Claims) bool {
	if len(a.opt.AllowedClients) == 0 {
		return true
	}
	if slices.Contains(a.opt.AllowedClients, cl.Client()) {
		return true
	}
	for _, aud := range cl.Audience {
		if slices.Contains(a.opt.AllowedClients, aud) {
			return true
		}
	}
	return false
}

// tokenKey is the cache key of a bearer token: its SHA-256.
func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }
