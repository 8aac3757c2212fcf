package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// consentURL asks the service for a consent URL as the bearer's user.
func consentURL(t *testing.T, svc *testenv.Service, bearer string) string {
	t.Helper()
	resp := svc.Do(t, http.MethodGet, "/v1/offline-token", bearer, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	return resp.Data(t)["consent_url"].(string)
}

// consent runs the whole consent of the bearer's user, logging in as u in a fresh
// browser, and returns the callback URL Keycloak redirected to.
func consent(t *testing.T, svc *testenv.Service, bearer string, u testenv.User) *url.URL {
	t.Helper()
	cb := testenv.NewBrowser(t).Authorize(consentURL(t, svc, bearer), u)
	require.Equal(t, svc.URL+testenv.CallbackPath, cb.Scheme+"://"+cb.Host+cb.Path)
	return cb
}

func callback(t *testing.T, cb *url.URL) testenv.Response {
	t.Helper()
	return testenv.NewBrowser(t).Get(cb.String())
}

// storedOffline reads a row and opens its token (for checks at Keycloak only).
func storedOffline(t *testing.T, svc *testenv.Service, id string) (store.Row, string) {
	t.Helper()
	row, err := svc.App.Store.Get(context.Background(), id)
	require.NoError(t, err)
	token, err := svc.App.Vault.Open(row)
	require.NoError(t, err)
	return row, token
}

func assertBadState(t *testing.T, resp testenv.Response, reason string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, resp.Status, string(resp.Body))
	body := resp.JSON(t)
	assert.Equal(t, "invalid_ack_state", body["code"])
	assert.Equal(t, reason, body["reason"])
}

func TestOfflineConsentFlow(t *testing.T) {
	svc := testenv.StartConsentService(t, testenv.NewServiceConfig(t))
	alice := testenv.Login(t, testenv.Alice)
	aliceClaims := testenv.Claims(t, alice.AccessToken)
	sub, sid := aliceClaims["sub"].(string), aliceClaims["sid"].(string)

	resp := svc.Do(t, http.MethodGet, "/v1/offline-token", alice.AccessToken, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	d := resp.Data(t)
	assert.Equal(t, sid, d["session_state_id"])
	assert.NotEmpty(t, d["message"])
	u, err := url.Parse(d["consent_url"].(string))
	require.NoError(t, err)
	assert.Equal(t, testenv.KeycloakBase(t)+"/realms/"+testenv.Realm+"/protocol/openid-connect/auth", u.Scheme+"://"+u.Host+u.Path)
	q := u.Query()
	assert.Equal(t, testenv.ServiceClient, q.Get("client_id"))
	assert.Equal(t, svc.URL+testenv.CallbackPath, q.Get("redirect_uri"))
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, "openid profile email offline_access", q.Get("scope"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.Len(t, q.Get("code_challenge"), 43)
	assert.NotEmpty(t, q.Get("nonce"))
	assert.Equal(t, 3, len(strings.Split(q.Get("state"), ".")), "the state is a JWT")

	cb := testenv.NewBrowser(t).Authorize(u.String(), testenv.Alice)
	offlineSID := cb.Query().Get("session_state")
	require.NotEmpty(t, offlineSID)
	resp = callback(t, cb)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	d = resp.Data(t)
	id := d["persistent_token_id"].(string)
	assert.Equal(t, offlineSID, d["session_state_id"], "the row is bound to the Keycloak offline session")

	row, offlineToken := storedOffline(t, svc, id)
	assert.Equal(t, store.Offline, row.Type)
	assert.Equal(t, sub, row.UserID)
	assert.Equal(t, offlineSID, row.SessionID)
	assert.Equal(t, sid, row.Attributes["consent_session_id"])
	assert.Equal(t, "Offline", testenv.Claims(t, offlineToken)["typ"])
	assert.Contains(t, testenv.OfflineSessionIDs(t, sub), offlineSID)

	t.Run("the stored offline token mints access tokens", func(t *testing.T) {
		resp := accessToken(t, svc, alice.AccessToken, id, "")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		intro := testenv.Introspect(t, testenv.Realm, resp.Data(t)["access_token"].(string), "access_token")
		assert.Equal(t, true, intro["active"])
		assert.Equal(t, sub, intro["sub"])
		assert.Equal(t, offlineSID, intro["sid"])
	})
	t.Run("a replayed callback is refused", func(t *testing.T) {
		assertBadState(t, callback(t, cb), "used")
	})
	t.Run("the consent endpoints need a user caller with a session", func(t *testing.T) {
		assert.Equal(t, http.StatusUnauthorized, svc.Do(t, http.MethodGet, "/v1/offline-token", "", nil).Status)
		service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
		resp := svc.Do(t, http.MethodGet, "/v1/offline-token", service, nil)
		assert.Equal(t, http.StatusBadRequest, resp.Status)
		assert.Equal(t, "invalid_request", resp.JSON(t)["code"])
		assert.Equal(t, http.StatusBadRequest, svc.Do(t, http.MethodPost, "/v1/offline-token-id", service, nil).Status)
	})

	var second string
	t.Run("reissue from the caller's session", func(t *testing.T) {
		resp := svc.Do(t, http.MethodPost, "/v1/offline-token-id", alice.AccessToken, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		d := resp.Data(t)
		second = d["persistent_token_id"].(string)
		assert.NotEqual(t, id, second)
		assert.Equal(t, offlineSID, d["session_state_id"])
		row, token := storedOffline(t, svc, second)
		assert.Equal(t, store.Offline, row.Type)
		assert.Equal(t, id, row.Attributes["from"])
		assert.NotEqual(t, offlineToken, token)
		resp = accessToken(t, svc, alice.AccessToken, second, "")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))

		bob := testenv.Login(t, testenv.Bob).AccessToken
		assert.Equal(t, http.StatusNotFound, svc.Do(t, http.MethodPost, "/v1/offline-token-id", bob, nil).Status)
	})
	require.NotEmpty(t, second)

	t.Run("delete: ownership and validation", func(t *testing.T) {
		bob := testenv.Login(t, testenv.Bob).AccessToken
		foreign := svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+id, bob, nil)
		missing := svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id=00000000-0000-4000-8000-000000000000", bob, nil)
		require.Equal(t, http.StatusNotFound, foreign.Status)
		assert.JSONEq(t, string(missing.Body), string(foreign.Body))
		for _, q := range []string{"", "?id=", "?id=nope"} {
			resp := svc.Do(t, http.MethodDelete, "/v1/offline-token-id"+q, alice.AccessToken, nil)
			assert.Equal(t, http.StatusUnprocessableEntity, resp.Status, q)
		}
		refreshID, _ := storeRefresh(t, svc, testenv.Realm, testenv.Alice)
		assert.Equal(t, http.StatusNotFound, svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+refreshID, alice.AccessToken, nil).Status,
			"a refresh token is not an offline token")
	})
	t.Run("delete one of two rows of a session: only the row goes", func(t *testing.T) {
		resp := svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+id, alice.AccessToken, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		d := resp.Data(t)
		assert.Equal(t, id, d["persistent_token_id"])
		assert.Equal(t, true, d["token_deleted"])
		assert.Equal(t, false, d["session_revoked"])
		assert.Equal(t, true, d["had_shared_session"])
		assert.Equal(t, http.StatusNotFound, accessToken(t, svc, alice.AccessToken, id, "").Status)
		assert.Contains(t, testenv.OfflineSessionIDs(t, sub), offlineSID)
		resp = accessToken(t, svc, alice.AccessToken, second, "&min_ttl=3600")
		assert.Equal(t, http.StatusOK, resp.Status, "the other row of the session still works: %s", resp.Body)
	})
	t.Run("delete the last row: the offline session is revoked", func(t *testing.T) {
		_, token := storedOffline(t, svc, second)
		service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
		resp := svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+second, service, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		d := resp.Data(t)
		assert.Equal(t, true, d["token_deleted"])
		assert.Equal(t, true, d["session_revoked"])
		assert.Equal(t, false, d["had_shared_session"])
		assert.NotContains(t, testenv.OfflineSessionIDs(t, sub), offlineSID)
		status, kcErr := testenv.RefreshAtKeycloak(t, testenv.Realm, token)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, kcErr, "invalid_grant")
		status, _ = testenv.RefreshAtKeycloak(t, testenv.Realm, offlineToken)
		assert.Equal(t, http.StatusBadRequest, status, "the first token of the session is dead too")
		assert.Equal(t, http.StatusNotFound, svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+second, service, nil).Status)
		for _, ev := range []string{"token_deleted", "token_revoked", "session_revoked"} {
			assert.Regexp(t, `"msg":"audit".*"event":"`+ev+`".*"row_id":"`+second+`".*"outcome":"ok"`, svc.Logs.String(),
				"the vault records %s of the revoked row", ev)
		}
	})

	logs := svc.Logs.String()
	for what, secret := range map[string]string{"code": cb.Query().Get("code"), "state": cb.Query().Get("state"),
		"nonce": q.Get("nonce"), "offline token": offlineToken} {
		assert.NotContains(t, logs, secret, "the log must not contain the %s", what)
	}
	assert.NotContains(t, logs, "eyJ", "no JWT in any log line")
}
