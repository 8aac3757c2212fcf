package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/reqctx"
)

var at = time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC)

// record writes e with ctx through an audit logger on a JSON handler and returns the
// one line it wrote.
func record(t *testing.T, ctx context.Context, e audit.Event) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	audit.New(slog.New(slog.NewJSONHandler(&buf, nil)), func() time.Time { return at }).Record(ctx, e)
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	return line
}

func TestRecord(t *testing.T) {
	ctx := reqctx.WithCaller(reqctx.WithClientIP(reqctx.WithRequestID(context.Background(), "req-1"), "203.0.113.7"),
		caller.Caller{Subject: "alice-id", ClientID: "frontend"})
	line := record(t, ctx, audit.Event{Name: audit.TokenStored, Subject: "alice-id", RowID: "row-1", SessionID: "sid-1", Detail: "rotated"})
	assert.Equal(t, map[string]any{
		"time": at.Format(time.RFC3339), "level": "INFO", "msg": "audit", "event": "token_stored", "request_id": "req-1",
		"actor": "alice-id", "subject": "alice-id", "row_id": "row-1", "session_id": "sid-1", "outcome": "ok",
		"client_ip": "203.0.113.7", "detail": "rotated",
	}, line, "the injected clock stamps the event")
}

func TestRecordActor(t *testing.T) {
	service := reqctx.WithCaller(context.Background(), caller.Caller{Subject: "sa-id", ClientID: "orders-api", Service: true})
	assert.Equal(t, "service:orders-api", record(t, service, audit.Event{Name: audit.AccessTokenIssued})["actor"])

	line := record(t, context.Background(), audit.Event{Name: audit.KeyRotation})
	assert.Equal(t, "system", line["actor"], "no caller")
	assert.Equal(t, "", line["request_id"], "always present, empty outside a request")
	assert.NotContains(t, line, "client_ip")
}

func TestRecordFailure(t *testing.T) {
	err := &problem.Error{Status: 502, Code: "keycloak_error", Reason: "invalid_grant", Message: "secret-bearing message"}
	line := record(t, context.Background(), audit.Event{Name: audit.TokenRefreshed, Err: err})
	assert.Equal(t, "failed", line["outcome"])
	assert.Equal(t, "keycloak_error:invalid_grant", line["error_code"])
	assert.NotContains(t, line, "error", "the error's message is never recorded")

	line = record(t, context.Background(), audit.Event{Name: audit.TokenRefreshed, Err: err, ErrorCode: "operator_code"})
	assert.Equal(t, "operator_code", line["error_code"], "an explicit code wins")
}

func TestNilLoggerRecordsNothing(t *testing.T) {
	var l *audit.Logger
	assert.NotPanics(t, func() { l.Record(context.Background(), audit.Event{Name: audit.TokenStored}) })
}
