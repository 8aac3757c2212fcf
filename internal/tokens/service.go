package tokens

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Store is the part of the repository the service needs.
type Store interface {
	Update(ctx context.Context, id string, fn func(ctx context.Context, cur store.Row) (store.Row, error)) (store.Row, error)
	GetBySession(ctx context.Context, sid string, t store.TokenType) (store.Row, error)
	Listen(ctx context.Context, channel string, onNotify func(string), onState func(bool))
}

// Vault is the part of the vault service the access-token service needs.
type Vault interface {
	Lookup(ctx context.Context, c caller.Caller, id string) (store.Row, error)
	Open(row store.Row) (string, error)
	Seal(row store.Row, token string) (store.Row, error)
	Ring() *seal.Ring
}

// Refresher performs the refresh_token grant.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string, retries int) (keycloak.TokenSet, error)
}

// Options configures the service.
type Options struct {
	MinTTL          time.Duration // default minimum remaining lifetime of a cached token
	CacheSize       int           // bound on cached access tokens; 0 disables the cache
	Retries         int           // retries of a refresh Keycloak certainly did not process
	RefreshDeadline time.Duration // bound on one refresh, lock wait included
	Log             *slog.Logger
	Audit           *audit.Logger
	// OnRefresh is told each refresh's outcome: "ok", "invalid_grant" or "transient"
	// (and "error" for anything else), for metrics.
	OnRefresh func(outcome string)
	Now       func() time.Time
}

// Access is a fresh access token.
type Access struct {
	AccessToken string
	ExpiresIn   int // seconds of life left
	TokenType   string
	Scope       string
}

// Service issues access tokens from stored tokens. Safe for concurrent use; Run must
// be running for the cache to be used at all.
type Service struct {
	st    Store
	vault Vault
	kc    Refresher
	opt   Options
	cache *cache
	group singleflight.Group
}

// New returns the service. Its cache stays cold until Run connects the eviction feed.
func New(st Store, v Vault, kc Refresher, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.OnRefresh == nil {
		opt.OnRefresh = func(string) {}
	}
	if opt.RefreshDeadline <= 0 {
		opt.RefreshDeadline = 30 * time.Second
	}
	return &Service{st: st, vault: v, kc: kc, opt: opt, cache: newCache(opt.CacheSize)}
}

// Run follows the database's eviction feed until ctx ends. While it is disconnected
// the cache is bypassed.
func (s *Service) Run(ctx context.Context) {
	if s.opt.CacheSize <= 0 {
		return
	}
	s.st.Listen(ctx, store.EvictChannel, s.cache.evict, s.cache.setHealthy)
}

// CacheStats reports the cache's counters.
func (s *Service) CacheStats() Stats { return s.cache.stats() }

// Evict drops a row's cached access token in this process (the database feed does it
// for every replica; this is for callers that know first).
func (s *Service) Evict(id string) { s.cache.evict(id) }

// AccessToken returns an access token minted from the stored token id, which the
// caller must own (or be a service caller). A cached token is served while it lives
// longer than minTTL; otherwise the stored token is refreshed at Keycloak.
func (s *Service) AccessToken(ctx context.Context, c caller.Caller, id string, minTTL time.Duration) (a Access, err error) {
	ev := audit.Event{Name: audit.AccessTokenIssued, RowID: id, Detail: "refresh"}
	defer func() {
		if err != nil {
			ev.Outcome, ev.ErrorCode = audit.Failed, failure(err)
		}
		s.opt.Audit.Record(ctx, ev)
	}()
	if minTTL < 0 {
		minTTL = s.opt.MinTTL
	}
	if e, ok := s.cache.get(id, s.opt.Now(), minTTL); ok {
		if !c.CanActFor(e.userID) {
			return Access{}, vault.ErrNotFound
		}
		ev.Subject, ev.SessionID, ev.Detail = e.userID, e.sessionID, "cache"
		return s.answer(e), nil
	}
	row, err := s.vault.Lookup(ctx, c, id)
	if err != nil {
		return Access{}, err
	}
	ev.Subject, ev.SessionID = row.UserID, row.SessionID
	if row.Status == store.StatusInvalid {
		return Access{}, vault.Refusal(row)
	}
	e, err := s.refreshShared(ctx, row.ID, minTTL, false)
	if err != nil {
		return Access{}, err
	}
	return s.answer(e), nil
}

// RefreshBySession refreshes the REFRESH row bound to the caller's session and stores
// its successor; it returns the row id (the Python service's /v1/refresh-token-id).
func (s *Service) RefreshBySession(ctx context.Context, c caller.Caller) (string, error) {
	if c.SessionID == "" {
		return "", vault.ErrNoSession
	}
	row, err := s.st.GetBySession(ctx, c.SessionID, store.Refresh)
	if errors.Is(err, store.ErrNotFound) || (err == nil && row.UserID != c.Subject) {
		return "", vault.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	if row.Status == store.StatusInvalid {
		return "", vault.Refusal(row)
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

// refresh holds the row lock across the Keycloak call, so that no other process
// presents the same stored token, and always refreshes the token read under the lock.
func (s *Service) refresh(ctx context.Context, id string, minTTL time.Duration, force bool) (entry, error) {
	if !force {
		// A flight that ended while we queued may have filled the cache.
		if e, ok := s.cache.get(id, s.opt.Now(), minTTL); ok {
			return e, nil
		}
	}
	var (
		ts        keycloak.TokenSet
		permanent error
		rotated   bool
		marked    bool
	)
	row, err := s.st.Update(ctx, id, func(ctx context.Context, cur store.Row) (store.Row, error) {
		if cur.Status == store.StatusInvalid {
			permanent = vault.Refusal(cur)
			return store.Row{}, store.ErrUnchanged
		}
		token, err := s.vault.Open(cur)
		if err != nil {
			return store.Row{}, err
		}
		ts, err = s.kc.Refresh(ctx, token, s.opt.Retries)
		s.opt.OnRefresh(refreshOutcome(err))
		if refused, ok := vault.MarkRefused(cur, err); ok {
			permanent, marked = err, true
			return refused, nil
		}
		if err != nil {
			return store.Row{}, err
		}
		now := s.opt.Now()
		next := cur
		next.LastUsedAt = &now
		switch {
		case ts.RefreshToken != "" && ts.RefreshToken != token:
			// Rotated: the successor replaces the token in this row, keeping its type.
			rotated = true
			return s.vault.Seal(next, ts.RefreshToken)
		case s.vault.Ring().NeedsReseal(seal.Sealed{Ciphertext: cur.EncryptedToken, IV: cur.IV, MAC: cur.MAC, KeyID: cur.KeyID}):
			return s.vault.Seal(next, token)
		}
		return next, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return entry{}, vault.ErrNotFound
	}
	ev := audit.Event{Name: audit.TokenRefreshed, Subject: row.UserID, RowID: id, SessionID: row.SessionID}
	if err != nil {
		ev.Outcome, ev.ErrorCode = audit.Failed, failure(err)
		s.opt.Audit.Record(ctx, ev)
		return entry{}, err
	}
	if permanent != nil {
		s.cache.evict(id)
		if marked {
			s.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenInvalidated, Subject: row.UserID, RowID: id,
				SessionID: row.SessionID, ErrorCode: failure(permanent)})
		}
		return entry{}, permanent
	}
	if rotated {
		ev.Name, ev.Detail = audit.TokenRotated, "successor stored in the same row"
	}
	s.opt.Audit.Record(ctx, ev)
	e := entry{id: id, userID: row.UserID, sessionID: row.SessionID, accessToken: ts.AccessToken, tokenType: ts.TokenType,
		scope: ts.Scope, expiry: ts.Expiry}
	s.cache.put(e)
	return e, nil
}

// refreshOutcome classifies a refresh for metrics.
func refreshOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case keycloak.IsInvalidGrant(err):
		return "invalid_grant"
	case errors.Is(err, keycloak.ErrUnavailable):
		return "transient"
	}
	return "error"
}

// failure names err for the audit trail.
func failure(err error) string {
	switch {
	case errors.Is(err, vault.ErrNotFound):
		return "token_not_found"
	case errors.Is(err, vault.ErrUnusable):
		return "token_unusable"
	case errors.Is(err, vault.ErrNoSession):
		return "invalid_request"
	}
	return audit.CodeOf(err)
}
