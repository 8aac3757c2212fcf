package app_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestServiceCallersAreNamed: the service role makes a service caller only on a token
// of a client named in AUTH_MANAGER_SERVICE_CLIENTS; otherwise the token is a user's
// (and may not touch another user's row: 404), in both auth modes.
func TestServiceCallersAreNamed(t *testing.T) {
	for _, mode := range []string{config.AuthModeIntrospect, config.AuthModeJWT} {
		t.Run(mode, func(t *testing.T) {
			for listed, want := range map[string]bool{testenv.ServiceCallerClient: true, "some-other-client": false} {
				cfg := testenv.NewServiceConfig(t)
				cfg.Auth.Mode, cfg.Auth.ServiceClients = mode, []string{listed}
				svc := testenv.StartService(t, cfg)
				alice := testenv.Login(t, testenv.Alice)
				row := storeOwnRefresh(t, svc, alice)
				service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken

				resp := svc.Do(t, http.MethodGet, "/v1/validate-token", service, nil)
				require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
				assert.Equal(t, want, resp.Data(t)["service_caller"], "listed %s", listed)
				resp = accessToken(t, svc, service, row, "")
				if want {
					assert.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
				} else {
					assert.Equal(t, http.StatusNotFound, resp.Status, string(resp.Body))
					assert.Equal(t, "token_not_found", resp.JSON(t)["code"])
				}
			}
		})
	}
	t.Run("none configured: an INFO line at start", func(t *testing.T) {
		cfg := testenv.NewServiceConfig(t)
		cfg.Auth.ServiceClients = nil
		svc := testenv.StartService(t, cfg)
		assert.Contains(t, svc.Logs.String(), `"level":"INFO","msg":"no service callers: AUTH_MANAGER_SERVICE_CLIENTS is empty`)
		service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
		resp := svc.Do(t, http.MethodGet, "/v1/validate-token", service, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		assert.Equal(t, false, resp.Data(t)["service_caller"])
	})
}

// TestServiceCallersSeeOnlyTheServicesSessions: a service caller lists and ends only
// sessions of the service's own client or with stored tokens; a session the user has
// with another client is 404 to it.
func TestServiceCallersSeeOnlyTheServicesSessions(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	svc := testenv.StartConsentService(t, realm.ServiceConfig(t))
	realm.Create(testenv.RealmOptions{OtherClient: true})
	service := serviceToken(t, realm)
	aliceID := realm.UserID(t, testenv.Alice)
	own := realm.Login(t, testenv.Alice, "")
	other := testenv.PasswordLogin(t, realm.Name, testenv.OtherClient, testenv.OtherClientSecret, testenv.Alice, "openid")

	listed := map[string]bool{}
	for _, s := range listSessions(t, svc, service, "?user_id="+aliceID) {
		listed[s["session_id"].(string)] = true
	}
	assert.True(t, listed[sid(t, own)], "the service's own client's session is listed")
	assert.False(t, listed[sid(t, other)], "another client's session is not")
	assert.Len(t, listSessions(t, svc, own.AccessToken, ""), 2, "alice herself sees both")

	resp := svc.Do(t, http.MethodDelete, "/v1/sessions/"+sid(t, other), service, nil)
	require.Equal(t, http.StatusNotFound, resp.Status, string(resp.Body))
	assert.Equal(t, "session_not_found", resp.JSON(t)["code"])
	assert.Contains(t, realm.OnlineSessionIDs(t, aliceID), sid(t, other), "the other client's session lives on")

	resp = svc.Do(t, http.MethodDelete, "/v1/sessions/"+sid(t, own), service, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	assert.NotContains(t, realm.OnlineSessionIDs(t, aliceID), sid(t, own))
}
