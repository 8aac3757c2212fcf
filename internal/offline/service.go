package offline

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
)

// ErrInvalidState means the consent callback's state is missing, forged, expired,
// already used, or belongs to another user or login than the one that came back. The
// HTTP layer answers 400 invalid_ack_state; a *StateError says which.
var ErrInvalidState = errors.New("offline: invalid consent state")

// StateError is an ErrInvalidState with its reason: missing, malformed, expired, used,
// user_mismatch or nonce_mismatch. The reason is safe to show; the state is not in it.
type StateError struct{ Reason string }

func (e *StateError) Error() string { return "offline: invalid consent state: " + e.Reason }

// Is makes errors.Is(err, ErrInvalidState) hold.
func (e *StateError) Is(target error) bool { return target == ErrInvalidState }

func badState(reason string) error { return &StateError{Reason: reason} }

// CallbackError is Keycloak's error= redirect to the consent callback (the user
// declined, the login failed, …): 502 keycloak_callback_error with Keycloak's words.
type CallbackError struct {
	Code        string // Keycloak's error, e.g. access_denied
	Description string // Keycloak's error_description, capped
}

func (e *CallbackError) Error() string {
	return "offline: Keycloak redirected to the callback with error " + e.Code + ": " + e.Description
}

// ErrNotOffline means Keycloak answered the code exchange or a reissue without an
// offline token (typically the user lacks the offline_access role). Whatever it did
// return has been revoked.
var ErrNotOffline = errors.New("offline: Keycloak did not issue an offline token")

// Store is the repository the service needs.
type Store interface {
	CreateConsent(ctx context.Context, c store.Consent) error
	TakeConsent(ctx context.Context, stateID string) (store.Consent, error)
	PurgeConsents(ctx context.Context, now time.Time) (int64, error)
	OfflineForSession(ctx context.Context, userID, sid string) (store.Row, error)
	ListBySession(ctx context.Context, sid string) ([]store.Row, error)
	Create(ctx context.Context, row store.Row) (store.Row, error)
	Delete(ctx context.Context, id string) (store.Row, error)
	Update(ctx context.Context, id string, fn func(ctx context.Context, cur store.Row) (store.Row, error)) (store.Row, error)
}

// Vault is the part of the vault service that seals, opens and guards rows.
type Vault interface {
	Lookup(ctx context.Context, c caller.Caller, id string) (store.Row, error)
	Seal(row store.Row, token string) (store.Row, error)
	Open(row store.Row) (string, error)
}

// Keycloak is the protocol side of the Keycloak client.
type Keycloak interface {
	Provider(ctx context.Context) (*oidc.Provider, error)
	OAuth2(ctx context.Context, scopes ...string) (*oauth2.Config, error)
	Exchange(ctx context.Context, code, verifier string) (keycloak.TokenSet, error)
	Refresh(ctx context.Context, refreshToken string, retries int) (keycloak.TokenSet, error)
	Revoke(ctx context.Context, token, hint string) error
}

// SessionAdmin ends Keycloak sessions through the admin API.
type SessionAdmin interface {
	DeleteSession(ctx context.Context, sid string, offline bool) error
}

// Evicter drops a row's cached access token in this process.
type Evicter interface {
	Evict(id string)
}

// Options configures the service.
type Options struct {
	StateSecret []byte        // HS256 key of the state (STATE_TOKEN_SECRET)
	StateExpiry time.Duration // how long a consent URL stays good (STATE_TOKEN_EXPIRY)
	ClientID    string        // the service's client: tokens must have been issued to it
	Retries     int           // retries of a refresh Keycloak certainly did not process
	// KeycloakDeadline bounds the Keycloak calls that must finish even when the caller
	// goes away (clean-up after a row was deleted or a token was refused).
	KeycloakDeadline time.Duration
	Log              *slog.Logger
	Audit            *audit.Logger // nil records nothing
	Now              func() time.Time
}

// Service is the offline-token service. Safe for concurrent use.
type Service struct {
	st    Store
	vault Vault
	kc    Keycloak
	admin SessionAdmin
	cache Evicter
	opt   Options
}

// New returns the service.
func New(st Store, v Vault, kc Keycloak, admin SessionAdmin, cache Evicter, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.KeycloakDeadline <= 0 {
		opt.KeycloakDeadline = 30 * time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, vault: v, kc: kc, admin: admin, cache: cache, opt: opt}
}

// detached is ctx without its cancellation, bounded by KeycloakDeadline: clean-up that
// must not stop half-way because the HTTP client hung up.
func (s *Service) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.opt.KeycloakDeadline)
}

// revokeObtained revokes a token the service obtained but will not keep, so that
// nothing able to mint tokens is left behind. Failures are logged, never returned: the
// caller is already answering with the reason it gave up.
func (s *Service) revokeObtained(ctx context.Context, token, why string) {
	if token == "" {
		return
	}
	ctx, cancel := s.detached(ctx)
	defer cancel()
	if err := s.kc.Revoke(ctx, token, "refresh_token"); err != nil {
		s.opt.Log.WarnContext(ctx, "offline: could not revoke a token that was not kept", "why", why, "error", err.Error())
	}
}

// codeOf names err for an audit event: this package's own failures by their envelope
// code, the rest as package audit names them.
func codeOf(err error) string {
	var se *StateError
	var ce *CallbackError
	switch {
	case errors.As(err, &se):
		return "invalid_ack_state:" + se.Reason
	case errors.As(err, &ce):
		return "keycloak_callback_error:" + ce.Code
	case errors.Is(err, ErrNotOffline):
		return "not_offline"
	case errors.Is(err, ErrIDToken):
		return "invalid_id_token"
	}
	return audit.CodeOf(err)
}
