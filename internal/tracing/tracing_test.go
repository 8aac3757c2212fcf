package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/auth-manager/auth-manager/internal/config"
)

func TestNamesCarryNoIDs(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT id FROM auth_vault WHERE id = $1 FOR UPDATE":           "SELECT FOR UPDATE",
		"SELECT id FROM auth_vault WHERE id = $1\n\tFOR NO KEY UPDATE": "SELECT FOR NO KEY UPDATE",
		"select 1":             "SELECT",
		"commit":               "COMMIT",
		"  UPDATE auth_vault ": "UPDATE",
		"":                     "query",
	} {
		assert.Equal(t, want, operation(sql), sql)
	}
	for path, want := range map[string]string{
		"/realms/r/protocol/openid-connect/token":            "token",
		"/realms/r/protocol/openid-connect/token/introspect": "token/introspect",
		"/admin/realms/r/users/0b5c/sessions":                "admin users",
		"/admin/realms/r":                                    "admin realm",
		"/realms/r/.well-known/openid-configuration":         "discovery",
	} {
		assert.Equal(t, want, endpointName(path), path)
	}
}

func TestOffWithoutEndpoint(t *testing.T) {
	tp, err := NewProvider(context.Background(), config.Tracing{ServiceName: "auth-manager"}, "v")
	require.NoError(t, err)
	assert.Nil(t, tp)

	tp, err = NewProvider(context.Background(), config.Tracing{Endpoint: "http://127.0.0.1:4318", ServiceName: "auth-manager"}, "v")
	require.NoError(t, err)
	require.NotNil(t, tp)
	require.NoError(t, tp.Shutdown(context.Background()))
}

func TestLogHandlerAddsTraceID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("k", "v")
	log.InfoContext(context.Background(), "untraced")
	assert.NotContains(t, buf.String(), "trace_id")

	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "s")
	log.InfoContext(ctx, "traced")
	span.End()
	assert.Contains(t, buf.String(), `"trace_id":"`+span.SpanContext().TraceID().String()+`"`)
	assert.Contains(t, buf.String(), `"k":"v"`)
}
