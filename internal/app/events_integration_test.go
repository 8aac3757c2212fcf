package app_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

// listEvents is GET /v1/events as bearer with query, the page's events and next.
func listEvents(t *testing.T, svc *testenv.Service, bearer, query string) ([]map[string]any, string) {
	t.Helper()
	resp := svc.Do(t, http.MethodGet, "/v1/events"+query, bearer, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	data := resp.Data(t)
	var out []map[string]any
	for _, e := range data["events"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out, data["next"].(string)
}

func typesOf(evs []map[string]any) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e["type"].(string)+"/"+e["cause"].(string))
	}
	return out
}

// TestEventsPullAPI: a refresh token revoked at Keycloak is token.invalid once the
// service next uses it; a user's delete is token.deleted. A user caller reads its own
// rows' events, a service caller everyone's, oldest first, page by page with next; a
// cursor with nothing after it answers the same cursor.
func TestEventsPullAPI(t *testing.T) {
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{})
	svc := testenv.StartService(t, realm.ServiceConfig(t))
	service := testenv.ClientToken(t, realm.Name, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken

	aliceRow, alice := storeRefresh(t, svc, realm.Name, testenv.Alice)
	bobRow, bob := storeRefresh(t, svc, realm.Name, testenv.Bob)
	testenv.RevokeAtKeycloak(t, realm.Name, alice.RefreshToken)
	resp := accessToken(t, svc, service, aliceRow, "")
	require.Equal(t, http.StatusBadGateway, resp.Status, string(resp.Body))
	resp = svc.Do(t, http.MethodDelete, "/v1/tokens/"+bobRow, bob.AccessToken, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))

	mine, next := listEvents(t, svc, alice.AccessToken, "")
	require.Equal(t, []string{"token.invalid/invalid_grant"}, typesOf(mine))
	e := mine[0]
	assert.Equal(t, aliceRow, e["persistent_token_id"])
	assert.Equal(t, "refresh", e["token_type"])
	assert.Equal(t, testenv.Claims(t, alice.AccessToken)["sub"], e["user_id"])
	assert.Equal(t, testenv.Claims(t, alice.AccessToken)["sid"], e["session_id"])
	assert.Equal(t, "invalid_grant", e["details"].(map[string]any)["error"])
	assert.Regexp(t, `^[0-9a-f-]{36}$`, e["id"])
	assert.NotEmpty(t, e["occurred_at"])
	again, same := listEvents(t, svc, alice.AccessToken, "?after="+next)
	assert.Empty(t, again)
	assert.Equal(t, next, same, "nothing new: the same cursor")

	// Deleting the row revoked bob's token, which ended that session's tokens: a new login.
	theirs, _ := listEvents(t, svc, realm.Login(t, testenv.Bob, "openid").AccessToken, "")
	assert.Equal(t, []string{"token.deleted/user"}, typesOf(theirs))

	first, cursor := listEvents(t, svc, service, "?limit=1")
	second, _ := listEvents(t, svc, service, "?limit=1&after="+cursor)
	assert.Equal(t, []string{"token.invalid/invalid_grant", "token.deleted/user"}, append(typesOf(first), typesOf(second)...),
		"a service caller reads every user's, oldest first")

	for _, q := range []string{"?after=x", "?after=-1", "?limit=0", "?limit=1001", "?limit=a"} {
		resp := svc.Do(t, http.MethodGet, "/v1/events"+q, service, nil)
		assert.Equal(t, http.StatusUnprocessableEntity, resp.Status, q)
		assert.Equal(t, "validation_error", resp.JSON(t)["code"], q)
	}
	assert.NotContains(t, string(svc.Do(t, http.MethodGet, "/v1/events", service, nil).Body), "eyJ", "never a token")
}
