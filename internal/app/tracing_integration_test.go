package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestTracingOneRefresh follows one POST /v1/access-token that refreshes at Keycloak,
// with an in-memory exporter: the server span is named for the route, and its children
// run in order lock the row → Keycloak's token endpoint → commit; the Keycloak request
// carried the client span's traceparent; the access line and the audit line carry the
// trace id.
func TestTracingOneRefresh(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	var mu sync.Mutex
	traceparents := map[string]string{} // Keycloak path → traceparent sent
	capture := func(rt http.RoundTripper) http.RoundTripper {
		return roundTrip(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			traceparents[r.URL.Path] = r.Header.Get("traceparent")
			mu.Unlock()
			return rt.RoundTrip(r)
		})
	}
	svc := testenv.StartService(t, testenv.NewServiceConfig(t), app.WithTracerProvider(tp), app.WithKeycloakTransport(capture))
	alice := testenv.Login(t, testenv.Alice)
	id := storeOwnRefresh(t, svc, alice)
	service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken

	exp.Reset()
	resp := accessToken(t, svc, service, id, "&min_ttl=3600") // the token lives 300 s: refresh
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))

	spans := exp.GetSpans()
	i := slices.IndexFunc(spans, func(s tracetest.SpanStub) bool { return s.Name == "POST /v1/access-token" })
	require.GreaterOrEqual(t, i, 0, "no server span named for the route in %v", names(spans))
	server := spans[i]
	assert.Equal(t, trace.SpanKindServer, server.SpanKind)

	var children []tracetest.SpanStub
	for _, s := range spans {
		if s.Parent.SpanID() == server.SpanContext.SpanID() {
			assert.Equal(t, server.SpanContext.TraceID(), s.SpanContext.TraceID())
			children = append(children, s)
		}
	}
	slices.SortFunc(children, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	order := names(children)
	// The refresh transaction is two batches: BEGIN with the row lock, and the writes
	// with COMMIT.
	lock := slices.IndexFunc(order, func(n string) bool {
		return strings.HasPrefix(n, "db BEGIN; SELECT FOR NO KEY UPDATE")
	})
	refresh := slices.Index(order, "keycloak POST token")
	commit := slices.IndexFunc(order, func(n string) bool {
		return strings.HasPrefix(n, "db UPDATE") && strings.HasSuffix(n, "; COMMIT")
	})
	require.True(t, lock >= 0 && refresh > lock && commit > refresh, "children of the server span in order: %v", order)
	t.Logf("children of %s: %v", server.Name, order)
	for _, s := range children {
		for _, a := range s.Attributes {
			if a.Key == "db.statement" {
				assert.NotContains(t, a.Value.AsString(), alice.RefreshToken)
			}
		}
	}

	kc := children[refresh]
	mu.Lock()
	sent := traceparents["/realms/"+testenv.Realm+"/protocol/openid-connect/token"]
	mu.Unlock()
	assert.Equal(t, "00-"+kc.SpanContext.TraceID().String()+"-"+kc.SpanContext.SpanID().String()+"-01", sent,
		"Keycloak got the client span's W3C traceparent")

	traceID := server.SpanContext.TraceID().String()
	var access, audit int
	for _, line := range strings.Split(svc.Logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		switch {
		case m["msg"] == "http request" && m["route"] == "/v1/access-token":
			access++
			assert.Equal(t, traceID, m["trace_id"], line)
		case m["msg"] == "audit" && m["row_id"] == id && m["event"] != "token_stored":
			audit++
			assert.Equal(t, traceID, m["trace_id"], line)
		}
	}
	assert.Equal(t, 1, access, "one access line")
	assert.Positive(t, audit, "audit lines of the refresh")
}

func names(spans []tracetest.SpanStub) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}
