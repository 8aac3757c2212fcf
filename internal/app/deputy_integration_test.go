package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// madeUpToken is what a signed-in user can write without Keycloak: a JWT whose payload
// says what the user wants (here an offline token of the service's client naming
// someone else's session), with random bytes as its signature.
func madeUpToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(map[string]any{"alg": "HS512", "typ": "JWT"})
	require.NoError(t, err)
	p, err := json.Marshal(claims)
	require.NoError(t, err)
	sig := make([]byte, 64)
	_, _ = rand.Read(sig)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "." + enc(sig)
}

// TestForgedTokenIsNoLeverOnAnotherUsersSession: user A cannot store a token A made up
// (payload: typ Offline, this realm and client, A's sub, B's offline session), so it
// cannot then make the service end B's session; and even a row of A's already bound to
// B's session id (as a Python-era row could be) only deletes A's row: B's offline
// session survives, and the answer never names B's rows.
func TestForgedTokenIsNoLeverOnAnotherUsersSession(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	svc := testenv.StartService(t, realm.ServiceConfig(t))
	realm.Create(testenv.RealmOptions{})

	bob := realm.Login(t, testenv.Bob, "openid offline_access")
	require.Equal(t, "Offline", testenv.Claims(t, bob.RefreshToken)["typ"])
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", bob.AccessToken, map[string]any{"refresh_token": bob.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	bobRow := resp.Data(t)["persistent_token_id"].(string)
	bobSid := testenv.Claims(t, bob.RefreshToken)["sid"].(string)

	alice := realm.Login(t, testenv.Alice, "openid")
	aliceSub := testenv.Claims(t, alice.AccessToken)["sub"].(string)
	forgedOffline := madeUpToken(t, map[string]any{"typ": "Offline", "iss": testenv.KeycloakBase(t) + "/realms/" + realm.Name,
		"azp": testenv.ServiceClient, "sub": aliceSub, "sid": bobSid, "exp": 0})

	t.Run("the made-up token is refused, no row", func(t *testing.T) {
		resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", alice.AccessToken, map[string]any{"refresh_token": forgedOffline})
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
		body := resp.JSON(t)
		assert.Equal(t, "validation_error", body["code"])
		assert.Contains(t, body["details"], "body.refresh_token")
		resp = svc.Do(t, http.MethodGet, "/v1/tokens", alice.AccessToken, nil)
		require.Equal(t, http.StatusOK, resp.Status)
		assert.Empty(t, resp.DataList(t), "no row for alice")
	})
	t.Run("bob's real token is not alice's to store", func(t *testing.T) {
		resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", alice.AccessToken, map[string]any{"refresh_token": bob.RefreshToken})
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
	})
	t.Run("a row of alice's bound to bob's session id ends nothing of bob's", func(t *testing.T) {
		row := store.Row{Meta: store.Meta{ID: store.NewID(), UserID: aliceSub, Type: store.Offline, SessionID: bobSid}}
		row, err := svc.App.Vault.Seal(row, forgedOffline)
		require.NoError(t, err)
		_, err = svc.App.Store.Create(context.Background(), row)
		require.NoError(t, err)

		resp := svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+row.ID, alice.AccessToken, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		data := resp.Data(t)
		assert.Equal(t, true, data["token_deleted"])
		assert.Equal(t, false, data["had_shared_session"], "bob's row says nothing to alice")
		assert.NotContains(t, string(resp.Body), bobRow, "bob's row id is never named to alice")

		st, body := testenv.RefreshAtKeycloak(t, realm.Name, bob.RefreshToken)
		assert.Equal(t, http.StatusOK, st, "bob's offline session survives: %s", body)
		assert.Contains(t, realm.OfflineSessionIDs(t, testenv.Claims(t, bob.AccessToken)["sub"].(string)), bobSid)
		_, err = svc.App.Store.Get(context.Background(), bobRow)
		assert.NoError(t, err, "bob's row is still stored")
	})
	t.Run("nor can alice end bob's session by its id", func(t *testing.T) {
		resp := svc.Do(t, http.MethodDelete, "/v1/sessions/"+bobSid, alice.AccessToken, nil)
		assert.Equal(t, http.StatusNotFound, resp.Status, string(resp.Body))
		st, _ := testenv.RefreshAtKeycloak(t, realm.Name, bob.RefreshToken)
		assert.Equal(t, http.StatusOK, st)
	})
}

// TestStoredRowTakesItsSessionFromKeycloak: the row of a stored token is bound to the
// session Keycloak's introspection names, whatever session the caller's own token is of.
func TestStoredRowTakesItsSessionFromKeycloak(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	svc := testenv.StartService(t, realm.ServiceConfig(t))
	realm.Create(testenv.RealmOptions{})
	first := realm.Login(t, testenv.Alice, "openid")
	second := realm.Login(t, testenv.Alice, "openid")
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", second.AccessToken, map[string]any{"refresh_token": first.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	row, err := svc.App.Store.Get(context.Background(), resp.Data(t)["persistent_token_id"].(string))
	require.NoError(t, err)
	assert.Equal(t, testenv.Claims(t, first.RefreshToken)["sid"], row.SessionID, "the token's own session, as Keycloak reports it")
}

// TestRowCapPerUser: past AUTH_MANAGER_MAX_TOKENS_PER_USER a store is 409
// too_many_tokens, also when the stores race, and the consent URL is refused too.
func TestRowCapPerUser(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	cfg.Tokens.MaxPerUser = 3
	svc := testenv.StartService(t, cfg)
	realm.Create(testenv.RealmOptions{})

	logins := make([]testenv.Tokens, 6)
	for i := range logins {
		logins[i] = realm.Login(t, testenv.Alice, "openid offline_access")
	}
	statuses := make([]int, len(logins))
	var wg sync.WaitGroup
	for i, tk := range logins {
		wg.Go(func() {
			statuses[i] = svc.Do(t, http.MethodPost, "/v1/refresh-token", tk.AccessToken, map[string]any{"refresh_token": tk.RefreshToken}).Status
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	assert.Equal(t, map[int]int{http.StatusOK: 3, http.StatusConflict: 3}, count)
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", logins[0].AccessToken, map[string]any{"refresh_token": realm.Login(t, testenv.Alice, "openid offline_access").RefreshToken})
	require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
	assert.Equal(t, "too_many_tokens", resp.JSON(t)["code"])
	resp = svc.Do(t, http.MethodGet, "/v1/tokens", logins[0].AccessToken, nil)
	assert.Len(t, resp.DataList(t), 3)
	resp = svc.Do(t, http.MethodGet, "/v1/offline-token", logins[0].AccessToken, nil)
	assert.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
	assert.Equal(t, "too_many_tokens", resp.JSON(t)["code"])
}

// TestNarrowingOnlyNarrows: a scope the stored token was never granted (an optional
// client scope of the service's client, not asked for at login) is 403
// scope_not_granted without an exchange at Keycloak; an audience the operator does
// not allow is 403 audience_not_allowed; a granted scope and an allowed audience work.
func TestNarrowingOnlyNarrows(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	cfg.Tokens.Audiences = []string{testenv.AudienceClient}
	svc := testenv.StartService(t, cfg)
	realm.Create(testenv.RealmOptions{})
	row, login := storeRefresh(t, svc, realm.Name, testenv.Alice)

	exchanges := func() int { return keycloakCalls(t, svc.App, "token_exchange") }
	before := exchanges()
	resp := accessToken(t, svc, login.AccessToken, row, "&audience="+testenv.AudienceClient+"&scope=phone")
	require.Equal(t, http.StatusForbidden, resp.Status, string(resp.Body))
	assert.Equal(t, "scope_not_granted", resp.JSON(t)["code"])
	assert.Equal(t, before, exchanges(), "no exchange was asked of Keycloak")

	resp = accessToken(t, svc, login.AccessToken, row, "&audience="+testenv.PlainCallerClient)
	require.Equal(t, http.StatusForbidden, resp.Status, string(resp.Body))
	assert.Equal(t, "audience_not_allowed", resp.JSON(t)["code"])
	assert.Equal(t, before, exchanges())

	resp = accessToken(t, svc, login.AccessToken, row, "&audience="+testenv.AudienceClient+"&scope=email")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	claims := testenv.Claims(t, resp.Data(t)["access_token"].(string))
	assert.NotContains(t, strings.Fields(claims["scope"].(string)), "phone")
	assert.Equal(t, before+1, exchanges())
}
