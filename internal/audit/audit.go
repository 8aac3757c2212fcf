package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/reqctx"
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
type Logger struct {
	log *slog.Logger
	now func() time.Time
}

// New returns an audit logger whose events are stamped by now (time.Now when nil).
// A nil *Logger records nothing.
func New(log *slog.Logger, now func() time.Time) *Logger {
	if now == nil {
		now = time.Now
	}
	return &Logger{log: log, now: now}
}

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
	h := l.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := append(make([]slog.Attr, 0, 10),
		slog.String("event", e.Name),
		slog.String("request_id", reqctx.RequestID(ctx)),
		slog.String("actor", actor(ctx)),
		slog.String("subject", e.Subject),
		slog.String("row_id", e.RowID),
		slog.String("session_id", e.SessionID),
		slog.String("outcome", e.Outcome))
	if ip := reqctx.ClientIP(ctx); ip != "" {
		attrs = append(attrs, slog.String("client_ip", ip))
	}
	if e.ErrorCode != "" {
		attrs = append(attrs, slog.String("error_code", e.ErrorCode))
	}
	if e.Detail != "" {
		attrs = append(attrs, slog.String("detail", e.Detail))
	}
	r := slog.NewRecord(l.now(), slog.LevelInfo, "audit", 0)
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r)
}

// actor is the event's actor: the caller's sub, "service:<client id>" for a service
// caller, "system" with none.
func actor(ctx context.Context) string {
	c, ok := reqctx.Caller(ctx)
	switch {
	case !ok:
		return "system"
	case c.Service:
		return "service:" + c.ClientID
	}
	return c.Subject
}
