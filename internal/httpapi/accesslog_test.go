package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/caller"
)

type anyCaller struct{}

func (anyCaller) Authenticate(context.Context, string) (caller.Caller, error) {
	return caller.Caller{Subject: "s", ClientID: "c"}, nil
}

// accessLines serves n validate requests and n unknown paths and counts the access
// lines of each.
func accessLines(t *testing.T, skip float64, n int) (validate, notFound int) {
	t.Helper()
	var logs bytes.Buffer
	h := NewHandler(Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil)), AccessLogSkip: skip, Auth: anyCaller{}})
	for range n {
		for _, path := range []string{"/v1/validate-token", "/nope"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer x")
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
	access := accessLinesOf(t, &logs)
	return strings.Count(access, `"route":"/v1/validate-token","status":200`), strings.Count(access, `"status":404`)
}

// accessLinesOf returns the access lines of logs.
func accessLinesOf(t *testing.T, logs *bytes.Buffer) string {
	t.Helper()
	var access strings.Builder
	for line := range strings.Lines(logs.String()) {
		var l struct{ Msg string }
		assert.NoError(t, json.Unmarshal([]byte(line), &l), line)
		if l.Msg == "http request" {
			access.WriteString(line)
		}
	}
	return access.String()
}

func TestAccessLogSkipsOnlyHotSuccesses(t *testing.T) {
	v, nf := accessLines(t, 0, 200)
	assert.Equal(t, 200, v, "skip 0 logs every request")
	assert.Equal(t, 200, nf)

	v, nf = accessLines(t, 1, 200)
	assert.Zero(t, v, "skip 1 logs no 2xx of a hot route")
	assert.Equal(t, 200, nf, "errors are always logged")

	v, nf = accessLines(t, 0.75, 400)
	assert.InDelta(t, 100, v, 45, "about a quarter of 400 (binomial, σ≈8.7)")
	assert.Equal(t, 400, nf)
}

func TestRequestIDEchoedOrGenerated(t *testing.T) {
	var logs bytes.Buffer
	h := NewHandler(Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	for sent, echoed := range map[string]bool{"abc-123.x:y_z": false, "trace-42": true, "bad id": false, "": false, strings.Repeat("a", 129): false} {
		req := httptest.NewRequest(http.MethodGet, "/health", nil)
		if sent != "" {
			req.Header.Set("x-request-id", sent) // any spelling of the name
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get("X-Request-ID")
		if echoed || saneRequestID(sent) {
			assert.Equal(t, sent, got)
		} else {
			assert.Regexp(t, `^[0-9a-f]{32}$`, got, "generated for %q", sent)
		}
		access := accessLinesOf(t, &logs)
		assert.Contains(t, access, `"request_id":"`+got+`"`, "the access line names it")
	}
}

// TestAccessLogRoute: the route the access log and the metrics name is chi's route
// pattern, for every kind of request (routed, with a parameter, wildcard, unmatched,
// wrong method).
func TestAccessLogRoute(t *testing.T) {
	for _, tc := range []struct{ method, path, route string }{
		{http.MethodGet, "/v1/validate-token", "/v1/validate-token"},
		{http.MethodDelete, "/v1/validate-token", "/v1/*"},
		{http.MethodGet, "/v1/nope", "/v1/*"},
		{http.MethodGet, "/nope", ""},
		{http.MethodGet, "/docs/index.css", "/docs/*"},
		{http.MethodDelete, "/v1/tokens/0e7c5b43-5a3f-4d5c-9f67-4d1e1c2b3a4f", "/v1/tokens/{id}"},
		{http.MethodGet, "/health", "/health"},
		{http.MethodPost, "/health", ""},
	} {
		var logs bytes.Buffer
		h := NewHandler(Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil)), Auth: anyCaller{}})
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(httptest.NewRecorder(), req)
		var line struct{ Route string }
		access := accessLinesOf(t, &logs)
		assert.NoError(t, json.Unmarshal([]byte(access), &line))
		assert.Equal(t, tc.route, line.Route, "%s %s", tc.method, tc.path)
	}
}
