package audit

import (
	"context"
	"errors"
	"log/slog"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/requestid"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Event names.
const (
	TokenStored        = "token_stored"
	AccessTokenIssued  = "access_token_issued"
	TokenRefreshed     = "token_refreshed"
	TokenRotated       = "token_rotated"
	TokenRevoked       = "token_revoked"
	TokenDeleted       = "token_deleted"
	TokenInvalidated   = "token_invalidated"
	SessionRevoked     = "session_revoked"
	BackchannelLogout  = "backchannel_logout"
	KeyRotation        = "key_rotation"
	OfflineConsent     = "offline_consent"
	OfflineTokenIssued = "offline_token_issued"
)

// Outcomes.
const (
	OK     = "ok"
	Failed = "failed"
)

// Event is one audited operation.
type Event struct {
	Name      string
	Subject   string // the user whose token it is
	RowID     string
	SessionID string
	Outcome   string // OK or Failed
	ErrorCode string // the envelope code or Keycloak's error, when Failed
	Detail    string // a short, token-free note (e.g. "from cache", "rotated")
}

// Logger writes audit events to a slog.Logger, one line each, message "audit".
type Logger struct{ log *slog.Logger }

// New returns an audit logger. A nil *Logger records nothing.
func New(log *slog.Logger) *Logger { return &Logger{log: log} }

// Record writes e. The actor and request id come from ctx: the authenticated caller's
// sub, or "service:<client id>" for a service caller, or "system" when there is none.
func (l *Logger) Record(ctx context.Context, e Event) {
	if l == nil || l.log == nil {
		return
	}
	if e.Outcome == "" {
		e.Outcome = OK
	}
	attrs := []slog.Attr{
		slog.String("event", e.Name),
		slog.String("request_id", requestid.From(ctx)),
		slog.String("actor", actor(ctx)),
		slog.String("subject", e.Subject),
		slog.String("row_id", e.RowID),
		slog.String("session_id", e.SessionID),
		slog.String("outcome", e.Outcome),
	}
	if e.ErrorCode != "" {
		attrs = append(attrs, slog.String("error_code", e.ErrorCode))
	}
	if e.Detail != "" {
		attrs = append(attrs, slog.String("detail", e.Detail))
	}
	l.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
}

func actor(ctx context.Context) string {
	c, ok := caller.From(ctx)
	switch {
	case !ok:
		return "system"
	case c.Service:
		return "service:" + c.ClientID
	}
	return c.Subject
}

// CodeOf names err for an audit event without its message (which could quote input).
// Feature packages pass their own code when they know better.
func CodeOf(err error) string {
	var ke *keycloak.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ke) && ke.Status < 500:
		return ke.Code
	case errors.Is(err, keycloak.ErrUnavailable):
		return "keycloak_unavailable"
	case errors.Is(err, store.ErrUnavailable):
		return "database_unavailable"
	case errors.Is(err, store.ErrDatabase):
		return "database_error"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	}
	return "error"
}
