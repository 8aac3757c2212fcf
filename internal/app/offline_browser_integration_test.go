package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestOfflineConsentInBrowserSession is the usual case: the user is signed in at
// Keycloak in the browser that opens the consent URL (here to the realm's account
// console, standing in for a web front end, and to this service's client), so Keycloak
// shows no login form and the offline session takes the id of the browser's session.
// Revoking the offline token must not sign the user out of that browser session.
func TestOfflineConsentInBrowserSession(t *testing.T) {
	svc := testenv.StartConsentService(t, testenv.NewServiceConfig(t))
	browser := testenv.NewBrowser(t)
	front := browser.LoginClient(testenv.AccountConsole, "", testenv.KeycloakBase(t)+"/realms/"+testenv.Realm+"/account/", testenv.Alice)
	login := browser.Login(testenv.Alice)
	claims := testenv.Claims(t, login.AccessToken)
	sub, sid := claims["sub"].(string), claims["sid"].(string)
	require.Equal(t, sid, testenv.Claims(t, front.AccessToken)["sid"], "one browser, one Keycloak session")

	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", login.AccessToken, map[string]any{"refresh_token": login.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	refreshID := resp.Data(t)["persistent_token_id"].(string)

	cb := browser.Authorize(consentURL(t, svc, login.AccessToken), testenv.User{}) // no login form: the session is reused
	resp = callback(t, cb)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	id := resp.Data(t)["persistent_token_id"].(string)
	assert.Equal(t, sid, resp.Data(t)["session_state_id"], "the offline session has the browser session's id")
	assert.Contains(t, testenv.OfflineSessionIDs(t, sub), sid)

	resp = svc.Do(t, http.MethodPost, "/v1/offline-token-id", login.AccessToken, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	second := resp.Data(t)["persistent_token_id"].(string)

	resp = svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+id, login.AccessToken, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	assert.Equal(t, true, resp.Data(t)["had_shared_session"])
	assert.Equal(t, http.StatusOK, accessToken(t, svc, login.AccessToken, refreshID, "").Status, "the refresh row is untouched while the session is kept")

	resp = svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+second, login.AccessToken, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	d := resp.Data(t)
	assert.Equal(t, true, d["session_revoked"])
	assert.Equal(t, false, d["had_shared_session"])
	assert.Contains(t, d["message"], refreshID, "the answer names the refresh row that goes down with the session's client")
	assert.NotContains(t, testenv.OfflineSessionIDs(t, sub), sid)

	assert.Contains(t, testenv.UserSessionIDs(t, sub), sid, "the browser session survives")
	status, kcErr := testenv.RefreshClientAtKeycloak(t, testenv.AccountConsole, "", front.RefreshToken)
	assert.Equal(t, http.StatusOK, status, "the front end stays signed in: %s", kcErr)
	resp = accessToken(t, svc, login.AccessToken, refreshID, "&min_ttl=3600") // past the cache, to Keycloak
	require.Equal(t, http.StatusBadGateway, resp.Status, "as the answer said")
	assert.Equal(t, "invalid_grant", resp.JSON(t)["reason"])
}

// TestOfflineConsentStateIsSingleUseAcrossReplicas: the same callback sent to two
// replicas (one database) at once is accepted by exactly one of them.
func TestOfflineConsentStateIsSingleUseAcrossReplicas(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	a := testenv.StartConsentService(t, cfg)
	cfg.Keycloak.ConsentRedirectURI = a.URL + testenv.CallbackPath // as behind one load balancer
	b := testenv.StartService(t, cfg)
	alice := testenv.Login(t, testenv.Alice).AccessToken

	for round := 0; round < 3; round++ {
		cb := consent(t, a, alice, testenv.Alice)
		onB := *cb
		onB.Host = strings.TrimPrefix(b.URL, "http://")
		results := make(chan int, 2)
		var wg sync.WaitGroup
		for _, u := range []*url.URL{cb, &onB} {
			wg.Go(func() { results <- callback(t, u).Status })
		}
		wg.Wait()
		close(results)
		var got []int
		for s := range results {
			got = append(got, s)
		}
		assert.ElementsMatch(t, []int{http.StatusOK, http.StatusBadRequest}, got, "round %d", round)
	}
}
