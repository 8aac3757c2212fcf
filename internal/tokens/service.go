package tokens

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Vault is the part of the vault the access-token service needs: row metadata with
// the access token stored for the row, and the one refresh operation that mints and
// stores it.
type Vault interface {
	Lookup(ctx context.Context, c caller.Caller, id string) (vault.Meta, error)
	Minted(ctx context.Context, c caller.Caller, id string, minTTL time.Duration) (vault.Refreshed, error)
	BySession(ctx context.Context, sid string, t vault.TokenType) (vault.Meta, error)
	Mint(ctx context.Context, id string, minTTL time.Duration, force bool, exchange vault.Exchange) (vault.Refreshed, error)
}

// Refresher performs the refresh_token grant and the standard token exchange.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string, retries int) (keycloak.TokenSet, error)
	ExchangeForAudience(ctx context.Context, accessToken, audience, scope string) (keycloak.TokenSet, error)
}

// Options configures the service.
type Options struct {
	MinTTL          time.Duration // default minimum remaining lifetime of a cached token
	CacheSize       int           // bound on cached access tokens; 0 disables the cache
	Feed            Feed          // the eviction feed the cache trusts (feed.Follower); nil: the cache never answers
	Retries         int           // retries of a refresh Keycloak certainly did not process
	RefreshDeadline time.Duration // bound on one refresh, lock wait included
	// Audiences limit the audiences a narrowed token may be asked for (empty: whatever
	// Keycloak's exchange policy allows); AudiencesByClient replaces the list for
	// callers whose token was issued to the client of the key.
	Audiences         []string
	AudiencesByClient map[string][]string
	Log               *slog.Logger
	Audit             *audit.Logger
	Now               func() time.Time
}

// Access is a fresh access token.
type Access struct {
	AccessToken string
	ExpiresIn   int // seconds of life left
	TokenType   string
	Scope       string
}

// Service issues access tokens from stored tokens. Safe for concurrent use; the
// cache is used only while Options.Feed is fresh.
type Service struct {
	vault Vault
	kc    Refresher
	opt   Options
	cache *cache
	group singleflight.Group
}

// New returns the service. Its cache stays cold until the eviction feed has started.
func New(v Vault, kc Refresher, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.RefreshDeadline <= 0 {
		opt.RefreshDeadline = 30 * time.Second
	}
	return &Service{vault: v, kc: kc, opt: opt, cache: newCache(opt.CacheSize, opt.Feed)}
}

// CacheStats reports the cache's counters.
func (s *Service) CacheStats() Stats { return s.cache.stats() }

// Evict drops a row's cached access tokens in this process (the eviction feed calls it
// on every replica; callers that know first call it too).
func (s *Service) Evict(id string) { s.cache.evict(id) }

// Flush drops every cached access token in this process (the eviction feed calls it
// when evictions may have been missed).
func (s *Service) Flush() { s.cache.flush() }

// AccessToken returns an access token minted from the stored token id, which the
// caller must own (or be a service caller). A token that lives longer than minTTL is
// served from this replica's cache, else from the database (where any replica's
// refresh left it); otherwise the stored token is refreshed at Keycloak.
func (s *Service) AccessToken(ctx context.Context, c caller.Caller, id string, minTTL time.Duration) (Access, error) {
	a, ev, err := s.accessToken(ctx, c, id, minTTL)
	ev.Err = err
	s.opt.Audit.Record(ctx, ev)
	return a, err
}

// accessToken is AccessToken without its audit event, which it fills in.
func (s *Service) accessToken(ctx context.Context, c caller.Caller, id string, minTTL time.Duration) (Access, audit.Event, error) {
	ev := audit.Event{Name: audit.AccessTokenIssued, RowID: id, Detail: "refresh"}
	if minTTL < 0 {
		minTTL = s.opt.MinTTL
	}
	e, from, err := s.plain(ctx, c, id, minTTL)
	ev.Subject, ev.SessionID, ev.Detail = e.userID, e.sessionID, from
	if err != nil {
		return Access{}, ev, err
	}
	return s.answer(e), ev, nil
}

// plain is the row's own access token after the ownership check, and where it came
// from: "cache" (this replica's), "stored" (the database's copy) or "refresh" (a
// refresh at Keycloak, or one that another caller waited on). A failed call's entry
// names the row's owner when it was read.
func (s *Service) plain(ctx context.Context, c caller.Caller, id string, minTTL time.Duration) (entry, string, error) {
	if e, ok := s.cache.get(id, s.opt.Now(), minTTL); ok {
		if !c.CanActFor(e.userID) {
			return entry{}, "refresh", vault.ErrNotFound
		}
		return e, "cache", nil
	}
	since := s.cache.evictionSeq()
	r, err := s.vault.Minted(ctx, c, id, minTTL)
	if err != nil {
		return entry{}, "refresh", err
	}
	if r.Stored {
		e := entryOf(id, r)
		s.cache.putUnlessEvicted(e, since)
		return e, "stored", nil
	}
	e, err := s.refreshShared(ctx, id, minTTL, false)
	if err != nil {
		return entry{userID: r.Meta.UserID, sessionID: r.Meta.SessionID}, "refresh", err
	}
	return e, "refresh", nil
}

// RefreshBySession refreshes the REFRESH row bound to the caller's session and stores
// its successor; it returns the row id (the Python service's /v1/refresh-token-id).
func (s *Service) RefreshBySession(ctx context.Context, c caller.Caller) (string, error) {
	if c.SessionID == "" {
		return "", vault.ErrNoSession
	}
	row, err := s.vault.BySession(ctx, c.SessionID, vault.Refresh)
	if err == nil && row.UserID != c.Subject {
		err = vault.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	if _, err := s.refreshShared(ctx, row.ID, 0, true); err != nil {
		return "", err
	}
	return row.ID, nil
}

func (s *Service) answer(e entry) Access {
	left := int(e.expiry.Sub(s.opt.Now()).Seconds())
	return Access{AccessToken: e.accessToken, ExpiresIn: max(left, 0), TokenType: e.tokenType, Scope: e.scope}
}

// refreshShared makes concurrent requests for one row in this process share one
// refresh. The refresh runs detached from any one caller's cancellation (the others
// still wait for it), bounded by RefreshDeadline.
func (s *Service) refreshShared(ctx context.Context, id string, minTTL time.Duration, force bool) (entry, error) {
	key := id
	if force {
		key = "force:" + id
	}
	ch := s.group.DoChan(key, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.RefreshDeadline)
		defer cancel()
		return s.refresh(rctx, id, minTTL, force)
	})
	select {
	case <-ctx.Done():
		return entry{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return entry{}, r.Err
		}
		return r.Val.(entry), nil
	}
}

// refresh obtains the row's access token through the vault's mint operation, which
// holds the row lock across the Keycloak call, stores the successor and the access
// token for every replica, and answers with a stored token instead when one that
// lives longer than minTTL turned up while this call waited (unless force). The
// answer is cached here.
func (s *Service) refresh(ctx context.Context, id string, minTTL time.Duration, force bool) (entry, error) {
	if !force {
		// A flight that ended while we queued may have filled the cache.
		if e, ok := s.cache.get(id, s.opt.Now(), minTTL); ok {
			return e, nil
		}
	}
	since := s.cache.evictionSeq()
	r, err := s.vault.Mint(ctx, id, minTTL, force, func(ctx context.Context, token string) (keycloak.TokenSet, error) {
		return s.kc.Refresh(ctx, token, s.opt.Retries)
	})
	if err != nil {
		s.cache.evict(id)
		return entry{}, err
	}
	e := entryOf(id, r)
	s.cache.putUnlessEvicted(e, since)
	return e, nil
}

// entryOf is the cache entry of row id's access token in r.
func entryOf(id string, r vault.Refreshed) entry {
	ts := r.Tokens
	return entry{id: id, userID: r.Meta.UserID, sessionID: r.Meta.SessionID, accessToken: ts.AccessToken,
		tokenType: ts.TokenType, scope: ts.Scope, expiry: ts.Expiry}
}
