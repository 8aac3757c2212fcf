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

// Vault is the part of the vault the access-token service needs: row metadata and the
// one refresh operation.
type Vault interface {
	Lookup(ctx context.Context, c caller.Caller, id string) (vault.Meta, error)
	BySession(ctx context.Context, sid string, t vault.TokenType) (vault.Meta, error)
	Refresh(ctx context.Context, id string, exchange vault.Exchange, succ vault.Successor) (vault.Refreshed, error)
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
// caller must own (or be a service caller). A cached token is served while it lives
// longer than minTTL; otherwise the stored token is refreshed at Keycloak.
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
	if e, ok := s.cache.get(id, s.opt.Now(), minTTL); ok {
		if !c.CanActFor(e.userID) {
			return Access{}, ev, vault.ErrNotFound
		}
		ev.Subject, ev.SessionID, ev.Detail = e.userID, e.sessionID, "cache"
		return s.answer(e), ev, nil
	}
	row, err := s.vault.Lookup(ctx, c, id)
	if err != nil {
		return Access{}, ev, err
	}
	ev.Subject, ev.SessionID = row.UserID, row.SessionID
	e, err := s.refreshShared(ctx, row.ID, minTTL, false)
	if err != nil {
		return Access{}, ev, err
	}
	return s.answer(e), ev, nil
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

// RefreshStored refreshes the stored token of row id at Keycloak now, for background
// work that has no caller (the offline keep-alive job): no ownership check and no
// cached answer, but the same row lock and single flight as AccessToken. It stores the
// successor, marks the row invalid on invalid_grant (and returns that error), and
// answers vault.ErrNotFound when the row is gone.
func (s *Service) RefreshStored(ctx context.Context, id string) error {
	_, err := s.refreshShared(ctx, id, 0, true)
	return err
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

// refresh presents the stored token through the vault's one refresh operation, which
// holds the row lock across the Keycloak call and stores the successor, and caches the
// access token it obtained.
func (s *Service) refresh(ctx context.Context, id string, minTTL time.Duration, force bool) (entry, error) {
	if !force {
		// A flight that ended while we queued may have filled the cache.
		if e, ok := s.cache.get(id, s.opt.Now(), minTTL); ok {
			return e, nil
		}
	}
	r, err := s.vault.Refresh(ctx, id, func(ctx context.Context, token string) (keycloak.TokenSet, error) {
		return s.kc.Refresh(ctx, token, s.opt.Retries)
	}, vault.StoreSuccessor)
	if err != nil {
		s.cache.evict(id)
		return entry{}, err
	}
	ts := r.Tokens
	e := entry{id: id, userID: r.Meta.UserID, sessionID: r.Meta.SessionID, accessToken: ts.AccessToken,
		tokenType: ts.TokenType, scope: ts.Scope, expiry: ts.Expiry}
	s.cache.put(e)
	return e, nil
}
