package client

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestRetryPolicyNext(t *testing.T) {
	p := RetryPolicy{Attempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	unavailable := &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable}
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
		{"Keycloak refused", 1, true, &Error{Status: 502, Code: CodeKeycloakError}, false, 0, 0},
		{"not found", 1, true, &Error{Status: 404, Code: CodeTokenNotFound}, false, 0, 0},
		{"caller's context ended", 1, true, errors.New("context canceled"), false, 0, 0},
		{"success", 1, true, nil, false, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 { // the jitter is random: every draw stays in bounds
				d, retry := p.next(tc.attempt, tc.idempotent, tc.err)
				if retry != tc.retry {
					t.Fatalf("retry = %v, want %v", retry, tc.retry)
				}
				if retry && (d < tc.min || d > tc.max) {
					t.Fatalf("wait %v, want within [%v, %v]", d, tc.min, tc.max)
				}
			}
		})
	}
	if _, retry := (RetryPolicy{}).next(1, true, unavailable); retry {
		t.Error("the zero policy retried")
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"3": 3 * time.Second,
		now.Add(10 * time.Second).Format(http.TimeFormat): 10 * time.Second,
		now.Add(-time.Second).Format(http.TimeFormat):     0,
		"soon": 0,
		"-1":   0,
		"":     0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
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
	c := newTestClient(t, srv.URL)
	start := time.Now()
	a, err := c.AccessToken(t.Context(), "0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f")
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessToken != "a" || calls.Load() != 2 {
		t.Errorf("token %q after %d calls, want \"a\" after 2", a.AccessToken, calls.Load())
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("the retry came after %v, before the Retry-After of 1 s", took)
	}
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
	_, err := newTestClient(t, srv.URL).Tokens(t.Context(), "")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not an *Error", err)
	}
	if e.Status != http.StatusBadGateway || e.Code != "" {
		t.Errorf("status %d code %q, want 502 and no code", e.Status, e.Code)
	}
	if strings.Contains(err.Error(), "secret-ish") {
		t.Errorf("the body is echoed: %v", err)
	}
	if errors.Is(err, ErrKeycloak) {
		t.Error("a proxy's 502 is not Keycloak's refusal")
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})
	for _, u := range []string{"", "auth-manager:8000", "ftp://x", "http://", "://x"} {
		if _, err := New(u, ts); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := New("http://auth-manager:8000/prefix/", ts)
	if err != nil {
		t.Fatal(err)
	}
	if c.base.Path != "/prefix" {
		t.Errorf("base path %q, want /prefix", c.base.Path)
	}
}

func newTestClient(t *testing.T, url string) *Client {
	t.Helper()
	c, err := New(url, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "service-token"}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
