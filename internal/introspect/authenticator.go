package introspect

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
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
	// ErrRefusedLocally is also in the chain of every refusal of the local check (shape,
	// signature against the realm's keys, issuer, type, exp): a token the realm did not
	// sign, or no longer vouches for by its own exp. Such a refusal cost no Keycloak
	// call. A token that passes the local check is never refused with it, whatever
	// Keycloak says of it later.
	ErrRefusedLocally = errors.New("introspect: refused by the local check")
	// ErrEndedUnknown: the ended sessions are not loaded yet, so no token can be checked
	// against them (503: try again, or another replica).
	ErrEndedUnknown = problem.New(http.StatusServiceUnavailable, "service_unavailable", "Ended sessions are not loaded yet")
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

// EndedSessions knows which Keycloak sessions ended (ended.Registry).
type EndedSessions interface {
	// Ended reports whether a token of session sid, issued to clientID for subject at
	// issuedAt, belongs to a session that ended; offline says it is of an offline
	// session (scope offline_access).
	Ended(sid, clientID, subject string, issuedAt time.Time, offline bool) bool
	// Loaded reports whether the ended sessions were read at all.
	Loaded() bool
	// Current reports whether sessions ended on any replica are known here at once.
	Current() bool
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
	AllowedClients []string      // azp must be one of these; empty allows any client of the realm
	CacheTTL       time.Duration // reuse of an answer (both modes, active or not); 0 disables the cache
	CacheSize      int           // bound on cached tokens
	// Ended knows which sessions ended: their tokens are refused, and until it has
	// loaded them a token that passes the local check is answered ErrEndedUnknown (503).
	// Nil: no session counts as ended.
	Ended EndedSessions
	Now   func() time.Time
}

// Authenticator turns bearer tokens into callers. Safe for concurrent use.
type Authenticator struct {
	opt   Options
	kc    Keycloak
	keys  KeySet
	ended EndedSessions
	cache *cache

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
	return &Authenticator{opt: opt, kc: kc, keys: keys, ended: opt.Ended, cache: newCache(opt.CacheSize)}
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
	if a.ended != nil {
		if !a.ended.Loaded() {
			return caller.Caller{}, ErrEndedUnknown
		}
		if a.ended.Ended(cl.SessionID, cl.Client(), cl.Subject, time.Unix(cl.IssuedAt, 0), offlineScope(cl.Scope)) {
			return caller.Caller{}, ErrNotActive
		}
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

// cacheUsable reports whether answers may be cached and reused: caching is on, and
// sessions ended on other replicas are known here at once. Cached answers are checked
// against the ended sessions like fresh ones, so the cache need not be emptied when
// the feed comes back.
func (a *Authenticator) cacheUsable() bool {
	return a.opt.CacheTTL > 0 && (a.ended == nil || a.ended.Current())
}

// cached returns a cached answer, when the cache is usable.
func (a *Authenticator) cached(key [32]byte, now time.Time) (entry, bool) {
	if !a.cacheUsable() {
		return entry{}, false
	}
	return a.cache.get(key, now)
}

// remember caches an answer for CacheTTL, never past the token's exp.
func (a *Authenticator) remember(key [32]byte, e entry, exp int64, now time.Time) {
	if !a.cacheUsable() {
		return
	}
	e.until = now.Add(a.opt.CacheTTL)
	if t := time.Unix(exp, 0); exp > 0 && t.Before(e.until) {
		e.until = t
	}
	a.cache.put(key, e, now)
}

// clientAllowed: the client the token was issued to (azp) must be allowed. Its
// audience does not count: aud names the services a token is for, which any client
// can be given (an audience mapper), so it says nothing about who calls.
func (a *Authenticator) clientAllowed(cl keycloak.Claims) bool {
	return len(a.opt.AllowedClients) == 0 || slices.Contains(a.opt.AllowedClients, cl.Client())
}

// tokenKey is the cache key of a bearer token: its SHA-256.
func tokenKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// offlineScope reports whether scope (space-separated) holds offline_access: the token
// is of an offline session.
func offlineScope(scope string) bool {
	for s := range strings.FieldsSeq(scope) {
		if s == "offline_access" {
			return true
		}
	}
	return false
}
