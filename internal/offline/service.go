package offline

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// ErrInvalidState means the consent callback's state is missing, forged, expired,
// already used, or belongs to another user or login than the one that came back:
// 400 invalid_ack_state, with the reason (missing, malformed, expired, used,
// user_mismatch or nonce_mismatch). The reason is safe to show; the state is not in it.
var ErrInvalidState = problem.New(http.StatusBadRequest, "invalid_ack_state",
	"The consent state is missing or invalid; start the consent again")

func badState(reason string) error {
	return ErrInvalidState.Saying(stateMessage(reason), reason, nil)
}

// stateMessage says in words what an invalid_ack_state reason means.
func stateMessage(reason string) string {
	switch reason {
	case "user_mismatch":
		return "The login at Keycloak was of another user than the one who asked for consent; the token obtained was revoked"
	case "nonce_mismatch":
		return "The login at Keycloak does not belong to this consent; the token obtained was revoked"
	case "expired":
		return "The consent state has expired; start the consent again"
	case "used":
		return "The consent state was already used (or never issued); start the consent again"
	}
	return ErrInvalidState.Message
}

// ErrCallback is Keycloak's error= redirect to the consent callback (the user
// declined, the login failed, …): 502 keycloak_callback_error with Keycloak's words.
var ErrCallback = problem.New(http.StatusBadGateway, "keycloak_callback_error", "Keycloak reported an error to the consent callback")

// callbackError is ErrCallback with Keycloak's error (the reason) and description.
func callbackError(code, description string) error {
	return ErrCallback.With(code, map[string]any{"error": code, "error_description": description})
}

// ErrNotOffline means Keycloak answered the code exchange or a reissue without an
// offline token (typically the user lacks the offline_access role). Whatever it did
// return has been revoked.
var ErrNotOffline = problem.New(http.StatusBadGateway, "keycloak_error",
	"Keycloak did not issue an offline token (does the user have the offline_access role?)").With("not_offline", nil)

// ErrRotationEnabled: the realm rotates refresh tokens, so a reissued offline token
// would share the source's token chain and using either would break the other. The
// source row is not touched.
var ErrRotationEnabled = problem.New(http.StatusConflict, "rotation_enabled",
	"The realm rotates refresh tokens: a reissued offline token would share the stored one's token chain, and using either would break the other").
	With("Run the offline consent flow again (GET /v1/offline-token) to obtain another offline token", nil)

// Store is the repository the service needs.
type Store interface {
	CreateConsent(ctx context.Context, c store.Consent) error
	TakeConsent(ctx context.Context, stateID string) (store.Consent, error)
	PurgeConsents(ctx context.Context, now time.Time) (int64, error)
}

// Vault is the part of the vault the service needs: the only owner of stored tokens.
type Vault interface {
	Admits(ctx context.Context, userID string) error
	StoreOffline(ctx context.Context, userID, sid, token string, attributes map[string]any) (vault.Meta, error)
	OfflineForSession(ctx context.Context, userID, sid string) (vault.Meta, error)
	ListBySession(ctx context.Context, sid string) ([]vault.Meta, error)
	Refresh(ctx context.Context, id string, exchange vault.Exchange, succ vault.Successor) (vault.Refreshed, error)
	Take(ctx context.Context, c caller.Caller, id string, t vault.TokenType) (vault.Taken, error)
	Revoke(ctx context.Context, t vault.Taken) error
	SessionEnded(ctx context.Context, row vault.Meta, err error)
}

// Keycloak is the protocol side of the Keycloak client.
type Keycloak interface {
	Provider(ctx context.Context) (*oidc.Provider, error)
	OAuth2(ctx context.Context, scopes ...string) (*oauth2.Config, error)
	Exchange(ctx context.Context, code, verifier string) (keycloak.TokenSet, error)
	Refresh(ctx context.Context, refreshToken string, retries int) (keycloak.TokenSet, error)
	Revoke(ctx context.Context, token, hint string) error
}

// SessionAdmin lists a user's offline sessions and ends sessions through the admin API.
type SessionAdmin interface {
	OfflineSessions(ctx context.Context, userID string) ([]keycloak.Session, error)
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
	// Rotation says whether the realm rotates refresh tokens (nil: it does not).
	Rotation Rotation
	// Ended, when set, records the offline sessions Revoke ends (Keycloak ends the
	// online session of the same id with them), so that every replica refuses their
	// callers' tokens.
	Ended Ended
}

// Rotation reports the realm's refresh-token rotation (keycloak.RotationWatch).
type Rotation interface {
	Current(ctx context.Context) keycloak.Rotation
}

// rotating reports whether the realm rotates refresh tokens.
func (s *Service) rotating(ctx context.Context) bool {
	return s.opt.Rotation != nil && s.opt.Rotation.Current(ctx).On
}

// Ended records ended sessions on every replica (ended.Registry).
type Ended interface {
	EndSession(ctx context.Context, sid, clientID string) error
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
