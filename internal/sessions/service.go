package sessions

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// ErrNotFound means no Keycloak session with that id that the caller may see, and no
// stored token of the caller bound to it.
var ErrNotFound = problem.New(http.StatusNotFound, "session_not_found", "Session not found")

// Session types, as the API names them.
const (
	Online  = "online"
	Offline = "offline"
)

// Vault is the part of the vault the service needs: stored tokens by user and session.
type Vault interface {
	ListByUser(ctx context.Context, userID string) ([]vault.Meta, error)
	ListBySession(ctx context.Context, sid string) ([]vault.Meta, error)
	DeleteBySession(ctx context.Context, e vault.Ending, sid, userID string, types ...vault.TokenType) ([]vault.Meta, error)
}

// Admin is the part of Keycloak's admin API the service needs.
type Admin interface {
	UserSessions(ctx context.Context, userID string) ([]keycloak.Session, error)
	OfflineSessions(ctx context.Context, userID string) ([]keycloak.Session, error)
	DeleteSession(ctx context.Context, sid string, offline bool) error
	ClientSessions(ctx context.Context, offline bool, first, max int) ([]keycloak.Session, error)
}

// Evicter drops a row's cached access token in this process (the database's eviction
// feed does it on every replica; this is for the one that knows first).
type Evicter interface {
	Evict(id string)
}

// Ended records ended sessions on every replica (ended.Registry).
type Ended interface {
	EndSession(ctx context.Context, sid, clientID string) error
}

// Options configures the service.
type Options struct {
	Log   *slog.Logger
	Audit *audit.Logger // nil records nothing
	Now   func() time.Time
	// ClientID is the service's own client (KEYCLOAK_CLIENT_ID): a service caller sees
	// and ends only its sessions and those with stored tokens.
	ClientID string
	// Ended, when set, records every session that ends here (callers' tokens of it
	// must stop working).
	Ended Ended
	// KeycloakDeadline bounds Keycloak calls that must finish even when the caller
	// goes away (a revocation in progress).
	KeycloakDeadline time.Duration
}

// Service lists and revokes sessions. Safe for concurrent use.
type Service struct {
	vault Vault
	admin Admin
	cache Evicter
	opt   Options
}

// New returns the service.
func New(v Vault, admin Admin, cache Evicter, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.KeycloakDeadline <= 0 {
		opt.KeycloakDeadline = 30 * time.Second
	}
	return &Service{vault: v, admin: admin, cache: cache, opt: opt}
}

// Session is a Keycloak session of a user with the stored tokens bound to it.
type Session struct {
	ID             string
	Type           string // Online or Offline
	Start          time.Time
	LastAccess     time.Time
	IPAddress      string
	Clients        []string // client ids
	StoredTokenIDs []string
}

// rowType is the vault token type bound to a session of type t: a refresh token lives
// in an online session, an offline token in an offline one.
func rowType(t string) vault.TokenType {
	if t == Offline {
		return vault.Offline
	}
	return vault.Refresh
}

// sessionsOf returns userID's online and offline sessions. A user Keycloak does not
// know has none.
func (s *Service) sessionsOf(ctx context.Context, userID string) (online, offline []keycloak.Session, err error) {
	online, err = s.admin.UserSessions(ctx, userID)
	if errors.Is(err, keycloak.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	offline, err = s.admin.OfflineSessions(ctx, userID)
	if errors.Is(err, keycloak.ErrNotFound) {
		return online, nil, nil
	}
	return online, offline, err
}

// detached is ctx without its cancellation, bounded by KeycloakDeadline.
func (s *Service) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.opt.KeycloakDeadline)
}

// ended records that session sid ended.
func (s *Service) ended(ctx context.Context, sid string) error {
	if s.opt.Ended == nil || sid == "" {
		return nil
	}
	return s.opt.Ended.EndSession(ctx, sid, "")
}
