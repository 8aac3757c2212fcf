package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/backchannel"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/introspect"
	"github.com/auth-manager/auth-manager/internal/offline"
	"github.com/auth-manager/auth-manager/internal/vault"
)

func TestBucket(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.7":                       "192.0.2.7",
		"::ffff:192.0.2.7":                "192.0.2.7",
		"2001:db8:1:2::1":                 "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:ffff:fff": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":                 "2001:db8:1:3::/64",
		"fe80::1%eth0":                    "fe80::/64",
		"::1":                             "::/64",
		"not an address":                  "not an address",
		"":                                "",
	} {
		assert.Equal(t, want, bucket(ip), ip)
	}
}

// limitedHandler is the service's router with a limit of 3 failures per minute and
// the given parts.
func limitedHandler(d Deps) http.Handler {
	d.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	d.Edge = Edge{RateLimit: 3, Window: time.Minute}
	d.MaxBodyBytes = 1 << 10
	return NewHandler(d)
}

// serve sends r from remote (host:port) and returns the answer.
func serve(h http.Handler, r *http.Request, remote string) *httptest.ResponseRecorder {
	r.RemoteAddr = remote
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// fakeAuth accepts "good", refuses "signed-but-revoked" after its local check, and
// refuses anything else in the local check; it counts its calls.
type fakeAuth struct{ calls atomic.Int64 }

func (f *fakeAuth) Authenticate(_ context.Context, token string) (caller.Caller, error) {
	f.calls.Add(1)
	switch token {
	case "good":
		return caller.Caller{Subject: "u"}, nil
	case "signed-but-revoked":
		return caller.Caller{}, introspect.ErrNotActive
	}
	return caller.Caller{}, errors.Join(introspect.ErrUnauthorized, introspect.ErrRefusedLocally)
}

func validate(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/validate-token", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// TestLimitIsPerIPv6Slash64: an IPv6 client is counted by its /64, so that moving to
// another address of its prefix does not start it afresh; an IPv4 client by its address.
func TestLimitIsPerIPv6Slash64(t *testing.T) {
	h := limitedHandler(Deps{Auth: &fakeAuth{}})
	for i := range 3 {
		assert.Equal(t, http.StatusUnauthorized, serve(h, validate("forged"), "[2001:db8:1:2::"+string(rune('a'+i))+"]:4000").Code)
	}
	rec := serve(h, validate("forged"), "[2001:db8:1:2:ffff::1]:4000")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "another address of the same /64")
	assert.Equal(t, "60", rec.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusUnauthorized, serve(h, validate("forged"), "[2001:db8:1:3::1]:4000").Code, "the next /64")

	for i := range 3 {
		assert.Equal(t, http.StatusUnauthorized, serve(h, validate("forged"), "192.0.2.1:4000").Code, "failure %d", i)
	}
	assert.Equal(t, http.StatusTooManyRequests, serve(h, validate("forged"), "192.0.2.1:4001").Code)
	assert.Equal(t, http.StatusUnauthorized, serve(h, validate("forged"), "192.0.2.2:4000").Code, "IPv4: per address")
}

// TestLimitRefusesOnlyWhatFailsTheLocalCheck: a client over the limit is refused
// tokens that fail the local check, not a token that passes it, whatever it is
// answered afterwards; such a token does not count either.
func TestLimitRefusesOnlyWhatFailsTheLocalCheck(t *testing.T) {
	auth := &fakeAuth{}
	h := limitedHandler(Deps{Auth: auth})
	const from = "192.0.2.1:4000"
	for range 5 {
		assert.Equal(t, http.StatusUnauthorized, serve(h, validate("signed-but-revoked"), from).Code, "never counted")
	}
	for range 3 {
		assert.Equal(t, http.StatusUnauthorized, serve(h, validate("forged"), from).Code)
	}
	assert.Equal(t, http.StatusTooManyRequests, serve(h, validate("forged"), from).Code)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, httptest.NewRequest(http.MethodGet, "/v1/validate-token", nil), from).Code,
		"no token at all")
	assert.Equal(t, http.StatusOK, serve(h, validate("good"), from).Code)
	assert.Equal(t, http.StatusUnauthorized, serve(h, validate("signed-but-revoked"), from).Code)
}

// fakeLogouts stands for the receiver: "signed" verifies and is applied,
// "signed-stale" verifies and is refused for its claims, anything else does not verify.
type fakeLogouts struct{}

func (f *fakeLogouts) Logout(_ context.Context, raw string) (backchannel.Logout, error) {
	switch {
	case raw == "":
		return backchannel.Logout{}, backchannel.ErrUnverified.With("missing", nil)
	case raw != "signed" && raw != "signed-stale":
		return backchannel.Logout{}, backchannel.ErrUnverified.With("invalid_signature", nil)
	case raw == "signed-stale":
		return backchannel.Logout{}, backchannel.ErrInvalidLogoutToken.With("stale", nil)
	}
	return backchannel.Logout{TokensDeleted: 1}, nil
}

func logout(token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/backchannel-logout", strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// TestLogoutLimitSparesSignedTokens: logout tokens whose signature does not verify
// count and are limited; one whose signature verifies is never limited or counted,
// whether it is applied or refused for its claims; a form without a token (doctor's
// probe) is neither.
func TestLogoutLimitSparesSignedTokens(t *testing.T) {
	h := limitedHandler(Deps{Backchannel: &fakeLogouts{}})
	const from = "192.0.2.1:4000"
	for range 5 {
		assert.Equal(t, http.StatusBadRequest, serve(h, logout(""), from).Code, "the probe is not counted")
		assert.Equal(t, http.StatusBadRequest, serve(h, logout("signed-stale"), from).Code, "a signed token is not counted")
	}
	for range 3 {
		assert.Equal(t, http.StatusBadRequest, serve(h, logout("forged"), from).Code)
	}
	assert.Equal(t, http.StatusTooManyRequests, serve(h, logout("forged"), from).Code)
	notForm := httptest.NewRequest(http.MethodPost, "/v1/backchannel-logout", strings.NewReader("{}"))
	assert.Equal(t, http.StatusTooManyRequests, serve(h, notForm, from).Code)
	assert.Equal(t, http.StatusOK, serve(h, logout("signed"), from).Code)
	rec := serve(h, logout("signed-stale"), from)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), `"reason":"stale"`)
	assert.Equal(t, http.StatusBadRequest, serve(h, logout(""), from).Code, "the probe is answered over the limit")
}

// fakeConsent refuses every callback with a bad state and counts the callbacks it saw.
type fakeConsent struct{ finished atomic.Int64 }

func (f *fakeConsent) Start(context.Context, caller.Caller) (offline.Consent, error) {
	return offline.Consent{}, errors.New("not used")
}

func (f *fakeConsent) Finish(context.Context, offline.Callback) (offline.Stored, error) {
	f.finished.Add(1)
	return offline.Stored{}, offline.ErrInvalidState.With("malformed", nil)
}

func (f *fakeConsent) Reissue(context.Context, caller.Caller) (offline.Stored, error) {
	return offline.Stored{}, errors.New("not used")
}

func (f *fakeConsent) Revoke(context.Context, caller.Caller, string) (vault.Deletion, error) {
	return vault.Deletion{}, errors.New("not used")
}

// TestCallbackCountsRedirectedFailures: with KEYCLOAK_AFTER_CONSENT_REDIRECT_URI set,
// a refused callback is a 302 with error=, and it counts all the same; past the limit
// the browser is sent there with error=rate_limited and the state is not looked at.
// Without the redirect, the same as 400s and then 429 with Retry-After.
func TestCallbackCountsRedirectedFailures(t *testing.T) {
	const from = "192.0.2.1:4000"
	cb := func() *http.Request {
		return httptest.NewRequest(http.MethodGet, "/v1/offline-token/callback?state=forged&code=x", nil)
	}
	t.Run("redirect", func(t *testing.T) {
		o := &fakeConsent{}
		h := limitedHandler(Deps{Offline: o, AfterConsentURL: "https://app.example/after"})
		for i := range 3 {
			rec := serve(h, cb(), from)
			require.Equal(t, http.StatusFound, rec.Code)
			loc, err := url.Parse(rec.Header().Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, "invalid_ack_state", loc.Query().Get("error"), "callback %d", i)
		}
		rec := serve(h, cb(), from)
		require.Equal(t, http.StatusFound, rec.Code)
		loc, err := url.Parse(rec.Header().Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "app.example", loc.Host)
		assert.Equal(t, "rate_limited", loc.Query().Get("error"))
		assert.Empty(t, rec.Header().Get("Retry-After"), "not on a redirect")
		assert.Equal(t, int64(3), o.finished.Load(), "the limited callback's state was not looked at")
	})
	t.Run("no redirect", func(t *testing.T) {
		o := &fakeConsent{}
		h := limitedHandler(Deps{Offline: o})
		for range 3 {
			assert.Equal(t, http.StatusBadRequest, serve(h, cb(), from).Code)
		}
		rec := serve(h, cb(), from)
		assert.Equal(t, http.StatusTooManyRequests, rec.Code)
		assert.Equal(t, "60", rec.Header().Get("Retry-After"))
		assert.Equal(t, int64(3), o.finished.Load())
	})
}
