package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/clientip"
	"github.com/auth-manager/auth-manager/internal/jsonlog"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/requestid"
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
	TokenUnusable      = "token_unusable" // a stored token was refused before use (e.g. a legacy row's claims)
	SessionRevoked     = "session_revoked"
	BackchannelLogout  = "backchannel_logout"
	KeyRotation        = "key_rotation"
	OfflineConsent     = "offline_consent"
	OfflineTokenIssued = "offline_token_issued"
	WebhookDelivery    = "webhook_delivery" // one attempt to deliver a token-health event to a subscriber
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
	ErrorCode string // the envelope code (problem.Code), or an operator-facing code
	// Err, when set, makes the event Failed with ErrorCode problem.Code(Err) (unless
	// ErrorCode is set already). Its message is never recorded: it could quote input.
	Err    error
	Detail string // a short, token-free note (e.g. "from cache", "rotated")
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
	if e.Err != nil {
		e.Outcome = Failed
		if e.ErrorCode == "" {
			e.ErrorCode = problem.Code(e.Err)
		}
	}
	if e.Outcome == "" {
		e.Outcome = OK
	}
	// Field by field into the line (jsonlog.Line): no slog.Record, no attribute slice.
	who, whose := actor(ctx)
	line := jsonlog.Start(ctx, l.log, time.Now(), slog.LevelInfo, "audit").
		Str("event", e.Name).
		Str("request_id", requestid.From(ctx)).
		Concat("actor", who, whose).
		Str("subject", e.Subject).
		Str("row_id", e.RowID).
		Str("session_id", e.SessionID).
		Str("outcome", e.Outcome)
	if ip := clientip.From(ctx); ip != "" {
		line.Str("client_ip", ip)
	}
	if e.ErrorCode != "" {
		line.Str("error_code", e.ErrorCode)
	}
	if e.Detail != "" {
		line.Str("detail", e.Detail)
	}
	_ = line.End(ctx)
}

// actor is the event's actor in two parts (joined in the line, not in memory): the
// caller's sub, "service:" and the client id for a service caller, "system" with none.
func actor(ctx context.Context) (string, string) {
	c, ok := caller.From(ctx)
	switch {
	case !ok:
		return "system", ""
	case c.Service:
		return "service:", c.ClientID
	}
	return c.Subject, ""
}
