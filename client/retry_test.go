package client

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestRetryPolicyNext(t *testing.T) {
	p := RetryPolicy{Attempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	unavailable := &Error{Status: http.StatusServiceUnavailable, Code: "service_unavailable"}
	unreachable := &Error{Code: CodeUnreachable}
	tests := []struct {
		name       string
		attempt    int
		idempotent bool
		err        error
		retry      bool
		min, max   time.Duration
	}{
		{"503, first retry", 1, true, unavailable, true, 50 * time.Millisecond, 100 * time.Millisecond},
		{"no answer, third retry", 3, true, unreachable, true, 200 * time.Millisecond, 400 * time.Millisecond},
		{"capped at MaxDelay", 3, true, unavailable, true, 0, time.Second},
		{"Retry-After is a floor", 1, true, &Error{Status: 503, RetryAfter: 700 * time.Millisecond}, true, 700 * time.Millisecond, 700 * time.Millisecond},
		{"Retry-After beyond MaxDelay ends it", 1, true, &Error{Status: 503, RetryAfter: 2 * time.Second}, false, 0, 0},
		{"attempts used up", 4, true, unavailable, false, 0, 0},
		{"not idempotent", 1, false, unreachable, false, 0, 0},
		{"Keycloak refused", 1, true, &Error{Status: 502, Code: "keycloak_error"}, false, 0, 0},
		{"not found", 1, true, &Error{Status: 404, Code: "token_not_found"}, false, 0, 0},
		{"caller's context ended", 1, true, errors.New("context canceled"), false, 0, 0},
		{"success", 1, true, nil, false, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 { // the jitter is random: every draw stays in bounds
				d, retry := p.next(tc.attempt, tc.idempotent, tc.err)
				require.Equal(t, tc.retry, retry)
				if retry {
					require.GreaterOrEqual(t, d, tc.min)
					require.LessOrEqual(t, d, tc.max)
				}
			}
		})
	}
	_, retry := RetryPolicy{}.next(1, true, unavailable)
	assert.False(t, retry, "the zero policy never retries")
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	assert.Equal(t, 3*time.Second, retryAfter("3", now))
	assert.Equal(t, 10*time.Second, retryAfter(now.Add(10*time.Second).Format(http.TimeFormat), now))
	assert.Zero(t, retryAfter(now.Add(-time.Second).Format(http.TimeFormat), now))
	assert.Zero(t, retryAfter("soon", now))
	assert.Zero(t, retryAfter("-1", now))
	assert.Zero(t, retryAfter("", now))
}

// A 503 with Retry-After (Keycloak down, the service draining) is retried after the
// time asked: the real service cannot be made to answer 503 on demand without
// stopping the shared stack, so a fake stands in.
func TestRetriesA503AfterRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"Keycloak is unavailable","code":"service_unavailable","reason":null,"details":{"keycloak":"unavailable"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"data":{"access_token":"a","expires_in":300}}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}))
	require.NoError(t, err)
	start := time.Now()
	a, err := c.AccessToken(t.Context(), "0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f")
	require.NoError(t, err)
	assert.Equal(t, "a", a.AccessToken)
	assert.Equal(t, int32(2), calls.Load())
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "the retry waited as Retry-After asked")
}

// An answer that is not the envelope (a proxy's error page) is still a typed error,
// and its body is not echoed.
func TestNonEnvelopeAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>upstream secret-ish page</html>")
	}))
	defer srv.Close()
	c, err := New(srv.URL, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}))
	require.NoError(t, err)
	_, err = c.Tokens(t.Context(), "")
	var e *Error
	require.True(t, errors.As(err, &e), "%v", err)
	assert.Equal(t, http.StatusBadGateway, e.Status)
	assert.Empty(t, e.Code)
	assert.NotContains(t, err.Error(), "secret-ish")
	assert.False(t, errors.Is(err, ErrKeycloak))
}

func TestNewRejectsBadInput(t *testing.T) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})
	for _, u := range []string{"", "auth-manager:8000", "ftp://x", "http://", "://x"} {
		_, err := New(u, ts)
		assert.Error(t, err, u)
	}
	_, err := New("http://auth-manager:8000", nil)
	assert.Error(t, err)
	c, err := New("http://auth-manager:8000/prefix/", ts)
	require.NoError(t, err)
	assert.Equal(t, "/prefix", c.base.Path)
}
