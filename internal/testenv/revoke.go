package testenv

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// RevokeAtKeycloak revokes a refresh or offline token of the service's client at
// realm's revocation endpoint, as another holder of the token could (the stored copy
// then fails with invalid_grant).
func RevokeAtKeycloak(t testing.TB, realm, token string) {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"},
		"client_id": {ServiceClient}, "client_secret": {ServiceClientSecret}}
	endpoint := strings.TrimSuffix(TokenEndpoint(t, realm), "/token") + "/revoke"
	resp, err := http.PostForm(endpoint, form)
	Must(t, err, "revoke at Keycloak")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("testenv: revoke at Keycloak: %d", resp.StatusCode)
	}
}
