package keycloak

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake is a Keycloak stand-in for faults the real one cannot produce on demand:
// server errors, stalls and malformed answers. token and introspect decide each answer.
type fake struct {
	srv              *httptest.Server
	tokenCalls       atomic.Int64
	token, introspec http.HandlerFunc
}

func newFake(t *testing.T) *fake {
	f := &fake{}
	mux := http.NewServeMux()
	mux.HandleFunc("/realms/r/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := f.srv.URL + "/realms/r"
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": base, "authorization_endpoint": base + "/auth", "token_endpoint": base + "/token",
			"jwks_uri": base + "/certs", "introspection_endpoint": base + "/introspect", "revocation_endpoint": base + "/revoke",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/realms/r/token", func(w http.ResponseWriter, r *http.Request) { f.tokenCalls.Add(1); f.token(w, r) })
	mux.HandleFunc("/realms/r/introspect", func(w http.ResponseWriter, r *http.Request) { f.introspec(w, r) })
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) client(timeout time.Duration) *Client {
	return New(Options{IssuerURL: f.srv.URL + "/realms/r", ClientID: "am", ClientSecret: "s", Timeout: timeout},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

const okToken = `{"access_token":"at","token_type":"Bearer","expires_in":300,"refresh_token":"rt2"}`

func TestRefreshRetriesOnlyWhatKeycloakDidNotProcess(t *testing.T) {
	cases := []struct {
		name      string
		answers   []http.HandlerFunc
		wantCalls int64
		check     func(t *testing.T, ts TokenSet, err error)
	}{
		{"503 then ok", []http.HandlerFunc{status(503, ``), status(200, okToken)}, 2, func(t *testing.T, ts TokenSet, err error) {
			require.NoError(t, err)
			assert.Equal(t, "rt2", ts.RefreshToken)
		}},
		{"500 is not retried (it may have been processed)", []http.HandlerFunc{status(500, `{"error":"unknown_error"}`), status(200, okToken)}, 1,
			func(t *testing.T, _ TokenSet, err error) { assert.ErrorIs(t, err, ErrUnavailable) }},
		{"invalid_grant is final", []http.HandlerFunc{status(400, `{"error":"invalid_grant","error_description":"Token is not active"}`)}, 1,
			func(t *testing.T, _ TokenSet, err error) {
				assert.True(t, IsInvalidGrant(err))
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "Token is not active", e.Description)
			}},
		{"502 three times gives up", []http.HandlerFunc{status(502, ``), status(502, ``), status(502, ``), status(200, okToken)}, 3,
			func(t *testing.T, _ TokenSet, err error) { assert.ErrorIs(t, err, ErrUnavailable) }},
		{"garbage answer", []http.HandlerFunc{status(200, `<html>`)}, 1,
			func(t *testing.T, _ TokenSet, err error) { assert.Error(t, err) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			var n atomic.Int64
			f.token = func(w http.ResponseWriter, r *http.Request) {
				tc.answers[min(int(n.Add(1))-1, len(tc.answers)-1)](w, r)
			}
			ts, err := f.client(2*time.Second).Refresh(context.Background(), "rt1", 2)
			tc.check(t, ts, err)
			assert.Equal(t, tc.wantCalls, f.tokenCalls.Load())
		})
	}
}

func TestStallAnswersWithinTimeout(t *testing.T) {
	f := newFake(t)
	release := make(chan struct{})
	defer close(release)
	stall := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	f.token, f.introspec = stall, stall
	c := f.client(500 * time.Millisecond)
	start := time.Now()
	_, err := c.Refresh(context.Background(), "rt", 2)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, int64(1), f.tokenCalls.Load(), "a timed-out refresh may have been processed: never retried")
	_, err = c.Introspect(context.Background(), "tok", "access_token")
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestIntrospectAnswers(t *testing.T) {
	f := newFake(t)
	c := f.client(2 * time.Second)
	f.introspec = status(200, `{"active":true,"sub":"u","sid":"s","aud":["a","b"],"realm_access":{"roles":["x"]}}`)
	cl, err := c.Introspect(context.Background(), "tok", "access_token")
	require.NoError(t, err)
	assert.True(t, cl.Active)
	assert.Equal(t, Audience{"a", "b"}, cl.Audience)
	assert.True(t, cl.HasRole("x", "am"))

	f.introspec = status(200, `not json`)
	_, err = c.Introspect(context.Background(), "tok", "access_token")
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, "malformed_response", e.Code)

	f.introspec = status(401, `{"error":"invalid_client","error_description":"Authentication failed."}`)
	_, err = c.Introspect(context.Background(), "tok", "access_token")
	require.True(t, errors.As(err, &e))
	assert.Equal(t, "invalid_client", e.Code)
	assert.NotErrorIs(t, err, ErrUnavailable)

	f.introspec = status(503, ``)
	_, err = c.Introspect(context.Background(), "tok", "access_token")
	assert.ErrorIs(t, err, ErrUnavailable, "a 5xx is transient")
}

func TestDiscoveryFailureIsUnavailableAndRetried(t *testing.T) {
	c := New(Options{IssuerURL: "http://127.0.0.1:1/realms/r", Timeout: time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, err := c.Provider(context.Background())
	assert.ErrorIs(t, err, ErrUnavailable)
	_, err = c.Provider(context.Background())
	assert.ErrorIs(t, err, ErrUnavailable, "a failed discovery is not cached")
}
