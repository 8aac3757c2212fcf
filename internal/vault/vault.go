package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Sentinel errors, in the envelope's vocabulary.
var (
	// ErrNotFound: no row with that id that the caller may see.
	ErrNotFound = problem.New(http.StatusNotFound, "token_not_found", "Token not found")
	// ErrForbidden: a user caller asked for another user's data.
	ErrForbidden = problem.New(http.StatusForbidden, "forbidden", "Not allowed for this caller")
	// ErrUnusable: the row exists but its token cannot be opened (tampered, moved to
	// another user, sealed under an unknown key).
	ErrUnusable = problem.New(http.StatusConflict, "token_unusable", "The stored token can no longer be used; store a new one")
	// ErrTooManyTokens: the user already holds MaxTokensPerUser rows.
	ErrTooManyTokens = problem.New(http.StatusConflict, "too_many_tokens", "Too many stored tokens for this user")
	// ErrNoSession: the caller's token has no sid, which the operation needs.
	ErrNoSession = problem.InvalidRequest("The caller's token has no session id (sid)")
	// ErrBusy: every refresh slot of this replica stayed taken for Options.SlotWait
	// (Keycloak is slow): the refresh is shed rather than queued past the caller's
	// patience.
	ErrBusy = problem.New(http.StatusServiceUnavailable, "service_unavailable",
		"Keycloak is too slow to refresh more stored tokens now; retry shortly").With("keycloak_busy", nil)
)

// Meta is what may be shown of a row: never the token, never ciphertext.
type Meta = store.Meta

// TokenType is a row's type: Refresh or Offline.
type TokenType = store.TokenType

// Token types.
const (
	Refresh = store.Refresh
	Offline = store.Offline
)

// Status is a row's health.
type Status = store.Status

// Row statuses.
const (
	StatusActive  = store.StatusActive
	StatusInvalid = store.StatusInvalid
)

// Store is the repository the vault needs: the vault table, which no other package
// reads or writes.
type Store interface {
	Get(ctx context.Context, id string) (store.Row, error)
	GetMeta(ctx context.Context, id string) (store.Meta, error)
	GetBySession(ctx context.Context, sid string, t store.TokenType) (store.Meta, error)
	OfflineForSession(ctx context.Context, userID, sid string) (store.Meta, error)
	OfflineByHash(ctx context.Context, userID, hash string) ([]store.Row, error)
	ListByUser(ctx context.Context, userID string) ([]store.Meta, error)
	CountByUser(ctx context.Context, userID string) (int, error)
	ListBySession(ctx context.Context, sid string) ([]store.Meta, error)
	CreateWithin(ctx context.Context, row store.Row, max int) (store.Row, error)
	Delete(ctx context.Context, id string, why store.Why) (store.Meta, error)
	PutRefresh(ctx context.Context, userID string, max int, build func(id string, cur *store.Row) (store.Row, error)) (store.Row, error)
	Update(ctx context.Context, id string, fn func(ctx context.Context, cur store.Row, minted *store.Access) (store.Change, error)) (store.Row, error)
	GetWithAccess(ctx context.Context, id string) (store.Meta, *store.Access, error)
	RecordRefreshFailure(ctx context.Context, m store.Meta, reason string, threshold int) (bool, error)
	DeleteBySession(ctx context.Context, sid, userID string, why store.Why, types ...store.TokenType) ([]store.Meta, error)
	DeleteByUser(ctx context.Context, userID string, why store.Why, types ...store.TokenType) ([]store.Meta, error)
	DeleteRows(ctx context.Context, sid string, ids []string, why store.Why) ([]store.Meta, error)
	Forecasts(ctx context.Context, ids []string) (map[string]store.Forecast, error)
	jobStore
	checkStore
}

// Rotation reports the realm's refresh-token rotation (keycloak.RotationWatch).
type Rotation interface {
	Current(ctx context.Context) keycloak.Rotation
}

// retryUncommitted reports whether a refresh whose write-back failed is presented
// once more (see Options.Rotation).
func (s *Service) retryUncommitted(ctx context.Context) bool {
	if s.opt.Rotation == nil {
		return false
	}
	r := s.opt.Rotation.Current(ctx)
	return r.On && r.MaxReuse >= 1
}

// Keycloak is what the vault asks Keycloak: whether a submitted token is active and
// whose it is (introspection with the service's own client credentials), and to revoke
// a token.
type Keycloak interface {
	Introspect(ctx context.Context, token, hint string) (keycloak.Claims, error)
	Revoke(ctx context.Context, token, hint string) error
}

// Options configures the service.
type Options struct {
	Issuer   string // the realm's issuer; submitted tokens must carry it
	ClientID string // the service's client; submitted tokens must have been issued to it
	Log      *slog.Logger
	Audit    *audit.Logger
	Now      func() time.Time
	// TrustOpaqueLegacy lets a legacy row whose token is not a JWT be used
	// (AUTH_MANAGER_TOKEN_VAULT_TRUST_OPAQUE_LEGACY); its owner cannot be checked.
	TrustOpaqueLegacy bool
	// Rotation says how the realm rotates refresh tokens (nil: it does not). A refresh
	// whose write-back failed after Keycloak answered is tried once more with the same
	// stored token when the realm rotates and lets a token be presented again (max
	// reuse ≥ 1), so that the successor Keycloak issued is not lost with the commit.
	Rotation Rotation
	// OnRefresh is told each presentation of a stored token to Keycloak: "ok",
	// "invalid_grant", "transient" or "error" (metrics).
	OnRefresh func(outcome string)
	// MaxTokensPerUser caps the rows one user may hold (AUTH_MANAGER_MAX_TOKENS_PER_USER);
	// a store that would create one more is ErrTooManyTokens. 0: no cap.
	MaxTokensPerUser int
	// Ended, when set, records the sessions whose tokens of the service's client stop
	// working because Delete revoked a stored refresh token (see Delete).
	Ended Ended
	// KeycloakConcurrency bounds the refreshes this replica presents to Keycloak at
	// once (AUTH_MANAGER_KEYCLOAK_CONCURRENCY). Each holds a pooled connection and the
	// row lock across the Keycloak call, so a bound below the pool leaves connections to
	// every other path however slow Keycloak is. 0: unbounded.
	KeycloakConcurrency int
	// SlotWait bounds how long a refresh waits for one of those slots before it is
	// shed with ErrBusy (0: as long as its context allows).
	SlotWait time.Duration
	// FailingAfter is how many refreshes of a row in a row must fail without a refusal
	// (Keycloak unavailable or erring) before token.refresh_failing is announced
	// (AUTH_MANAGER_EVENTS_FAILING_AFTER); 0 never announces it.
	FailingAfter int
	// ConsentURL is where a service can send a user whose offline token Keycloak refused
	// (token.invalid's details.consent_url), with {user_id} and {persistent_token_id}
	// replaced; "" leaves it out.
	ConsentURL string
}

// Ended records ended sessions on every replica (ended.Registry).
type Ended interface {
	EndSession(ctx context.Context, sid, clientID string) error
}

// Service is the vault. Safe for concurrent use.
type Service struct {
	st    Store
	ring  *seal.Ring
	kc    Keycloak
	opt   Options
	slots chan struct{} // one per refresh in flight; nil when unbounded
}

// New returns the vault service.
func New(st Store, ring *seal.Ring, kc Keycloak, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.OnRefresh == nil {
		opt.OnRefresh = func(string) {}
	}
	s := &Service{st: st, ring: ring, kc: kc, opt: opt}
	if opt.KeycloakConcurrency > 0 {
		s.slots = make(chan struct{}, opt.KeycloakConcurrency)
	}
	return s
}

// Ring is the key ring the vault seals with (tools and tests).
func (s *Service) Ring() *seal.Ring { return s.ring }

func identity(id, userID string, t store.TokenType) seal.Identity {
	return seal.Identity{RowID: id, UserID: userID, TokenType: string(t)}
}

func sealedOf(r store.Row) seal.Sealed {
	return seal.Sealed{Ciphertext: r.EncryptedToken, IV: r.IV, MAC: r.MAC, KeyID: r.KeyID}
}

// Seal seals token for row's identity (id, user, type) under the current key and fills
// the row's sealing. Exported for tools and tests; features store through StoreRefresh
// and StoreOffline.
func (s *Service) Seal(row store.Row, token string) (store.Row, error) {
	sealed, err := s.ring.Seal([]byte(token), identity(row.ID, row.UserID, row.Type))
	if err != nil {
		return store.Row{}, fmt.Errorf("vault: seal: %w", err)
	}
	row.Sealing = store.Sealing{EncryptedToken: sealed.Ciphertext, IV: sealed.IV, MAC: sealed.MAC,
		KeyID: sealed.KeyID, TokenHash: seal.Hash([]byte(token))}
	return row, nil
}

// Open returns the plaintext token of row, or ErrUnusable. Exported for tools and
// tests; features use the whole operations (Refresh, Take, Delete).
func (s *Service) Open(row store.Row) (string, error) {
	pt, err := s.ring.Open(sealedOf(row), identity(row.ID, row.UserID, row.Type))
	if err != nil {
		return "", ErrUnusable
	}
	return string(pt), nil
}

// lookup returns the row with id if c may see it; ErrNotFound otherwise, whether the
// row is missing or belongs to someone else.
func (s *Service) lookup(ctx context.Context, c caller.Caller, id string) (store.Row, error) {
	row, err := s.st.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Row{}, ErrNotFound
	}
	if err != nil {
		return store.Row{}, err
	}
	if !c.CanActFor(row.UserID) {
		return store.Row{}, ErrNotFound
	}
	return row, nil
}

// Lookup returns the metadata of row id if c may see it, ErrNotFound otherwise. It
// does not read the sealed token.
func (s *Service) Lookup(ctx context.Context, c caller.Caller, id string) (Meta, error) {
	m, err := s.st.GetMeta(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !c.CanActFor(m.UserID) {
		return Meta{}, ErrNotFound
	}
	return m, err
}
