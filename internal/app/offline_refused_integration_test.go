package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// clock is a settable clock for the service under test.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

func TestOfflineConsentRefused(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	clk := &clock{}
	svc := testenv.StartConsentService(t, cfg, app.WithClock(clk.Now))
	alice := testenv.Login(t, testenv.Alice).AccessToken
	sub := testenv.Claims(t, alice)["sub"].(string)
	rows := func() int {
		metas, err := svc.App.Store.ListByUser(context.Background(), sub)
		require.NoError(t, err)
		return len(metas)
	}

	t.Run("missing state", func(t *testing.T) {
		assertBadState(t, testenv.NewBrowser(t).Get(svc.URL+testenv.CallbackPath+"?code=x"), "missing")
	})
	t.Run("tampered state", func(t *testing.T) {
		cb := consent(t, svc, alice, testenv.Alice)
		state := cb.Query().Get("state")
		for name, forged := range map[string]string{
			"payload changed": tamperPayload(t, state),
			"signature cut":   state[:len(state)-2],
			"not a JWT":       "not-a-jwt",
		} {
			t.Run(name, func(t *testing.T) {
				forgedCB := *cb
				fq := cb.Query()
				fq.Set("state", forged)
				forgedCB.RawQuery = fq.Encode()
				assertBadState(t, callback(t, &forgedCB), "malformed")
			})
		}
		resp := callback(t, cb)
		require.Equal(t, http.StatusOK, resp.Status, "forgeries do not spend the genuine state: %s", resp.Body)
	})
	t.Run("expired state", func(t *testing.T) {
		before := rows()
		cb := consent(t, svc, alice, testenv.Alice)
		clk.Advance(cfg.StateExpiry + time.Second)
		defer clk.Advance(-cfg.StateExpiry - time.Second)
		assertBadState(t, callback(t, cb), "expired")
		assert.Equal(t, before, rows())
	})
	t.Run("state of one user completed by another user's login", func(t *testing.T) {
		before := rows()
		cb := consent(t, svc, alice, testenv.Bob)
		bobSession := cb.Query().Get("session_state")
		resp := callback(t, cb)
		assertBadState(t, resp, "user_mismatch")
		assert.Equal(t, before, rows())
		bobID := testenv.Claims(t, testenv.Login(t, testenv.Bob).AccessToken)["sub"].(string)
		assert.NotContains(t, testenv.OfflineSessionIDs(t, bobID), bobSession, "Bob's offline token was revoked")
	})
	t.Run("Keycloak's error= answers 502 and spends the state", func(t *testing.T) {
		state := mustQuery(t, consentURL(t, svc, alice)).Get("state")
		resp := testenv.NewBrowser(t).Get(svc.URL + testenv.CallbackPath + "?" + url.Values{"error": {"access_denied"},
			"error_description": {"User denied consent"}, "state": {state}}.Encode())
		require.Equal(t, http.StatusBadGateway, resp.Status, string(resp.Body))
		body := resp.JSON(t)
		assert.Equal(t, "keycloak_callback_error", body["code"])
		assert.Equal(t, "access_denied", body["reason"])
		assert.Equal(t, map[string]any{"error": "access_denied", "error_description": "User denied consent"}, body["details"])
		resp = testenv.NewBrowser(t).Get(svc.URL + testenv.CallbackPath + "?" + url.Values{"code": {"x"}, "state": {state}}.Encode())
		assertBadState(t, resp, "used")
	})
	t.Run("no code: 422, and the state is spent", func(t *testing.T) {
		state := mustQuery(t, consentURL(t, svc, alice)).Get("state")
		u := svc.URL + testenv.CallbackPath + "?" + url.Values{"state": {state}}.Encode()
		resp := testenv.NewBrowser(t).Get(u)
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
		assert.Equal(t, map[string]any{"query.code": "field required"}, resp.JSON(t)["details"])
		assertBadState(t, testenv.NewBrowser(t).Get(u+"&code=x"), "used")
	})
	t.Run("a code Keycloak refuses spends the state too", func(t *testing.T) {
		cb := consent(t, svc, alice, testenv.Alice)
		q := cb.Query()
		q.Set("code", "not-a-code")
		cb.RawQuery = q.Encode()
		resp := callback(t, cb)
		require.Equal(t, http.StatusBadGateway, resp.Status, string(resp.Body))
		assert.Equal(t, "keycloak_error", resp.JSON(t)["code"])
		assertBadState(t, callback(t, cb), "used")
	})
	assert.NotContains(t, svc.Logs.String(), "eyJ", "no JWT (state, token) in any log line")
}

// tamperPayload changes the state's subject while keeping its signature.
func tamperPayload(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	claims := testenv.Claims(t, jwt)
	claims["sub"] = "00000000-0000-4000-8000-000000000000"
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Query()
}
