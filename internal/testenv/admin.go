package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/devstack"
)

// adminCall calls Keycloak's admin REST API of realm as the service's service account.
func adminCall(t testing.TB, realm, method, path string, out any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ans, err := keycloak(t).ServiceAccount(realm, ServiceClient, ServiceClientSecret).Do(ctx, method, devstack.RealmPath(realm, path), nil, out)
	Must(t, err, "admin "+method+" "+path)
	return ans.Status
}

// AdminLogout ends every online session of the user (Keycloak's "sign out all").
func AdminLogout(t testing.TB, realm, userID string) {
	t.Helper()
	if st := adminCall(t, realm, http.MethodPost, "/users/"+userID+"/logout", nil); st != http.StatusNoContent {
		t.Fatalf("testenv: admin logout answered %d", st)
	}
}

// Introspect asks Keycloak (as the service's client) about a token.
func Introspect(t testing.TB, realm, token, hint string) map[string]any {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, _ := http.NewRequest(http.MethodPost, KeycloakBase(t)+"/realms/"+realm+"/protocol/openid-connect/token/introspect", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(ServiceClient, ServiceClientSecret)
	resp, err := http.DefaultClient.Do(req)
	Must(t, err, "introspect")
	defer resp.Body.Close()
	var m map[string]any
	Must(t, json.NewDecoder(resp.Body).Decode(&m), "decode introspection")
	return m
}

// RefreshAtKeycloak presents a refresh token of the service's client to realm's token
// endpoint directly and returns the status code and the OAuth error, if any.
func RefreshAtKeycloak(t testing.TB, realm, refreshToken string) (int, string) {
	t.Helper()
	return refreshAt(t, realm, ServiceClient, ServiceClientSecret, refreshToken)
}

// refreshAt runs the refresh_token grant for client (secret "" for a public client).
func refreshAt(t testing.TB, realm, client, secret, refreshToken string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := keycloak(t).Refresh(ctx, realm, client, secret, refreshToken)
	var refused *devstack.GrantError
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.As(err, &refused) && refused.Code != "":
		return refused.Status, refused.Code + ": " + refused.Description
	case errors.As(err, &refused):
		return refused.Status, ""
	}
	t.Fatalf("testenv: refresh at Keycloak: %v", err)
	return 0, ""
}

// CallCounter counts HTTP calls by URL path suffix; install it with
// app.WithKeycloakTransport(counter.Wrap).
type CallCounter struct{ token, other atomic.Int64 }

// Wrap wraps a transport.
func (c *CallCounter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/token") && grantType(r) != "client_credentials" {
			c.token.Add(1)
		} else {
			c.other.Add(1)
		}
		return rt.RoundTrip(r)
	})
}

// grantType reads a token request's grant_type, leaving its body readable.
func grantType(r *http.Request) string {
	if r.Body == nil {
		return ""
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return ""
	}
	v, _ := url.ParseQuery(string(b))
	return v.Get("grant_type")
}

// TokenCalls is how many token-endpoint calls were made that present a user's token or
// code (the service account's own client_credentials logins for the admin API, e.g.
// the realm's rotation setting, are not counted).
func (c *CallCounter) TokenCalls() int64 { return c.token.Load() }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// SetClientAttribute sets one attribute of the realm's client clientID (e.g.
// standard.token.exchange.enabled) through the admin API.
func (r *TestRealm) SetClientAttribute(t testing.TB, clientID, key, value string) {
	t.Helper()
	var found []map[string]any
	if st, msg := masterAdmin(t, http.MethodGet, "/admin/realms/"+r.Name+"/clients?clientId="+url.QueryEscape(clientID), nil, &found); st != http.StatusOK || len(found) != 1 {
		t.Fatalf("testenv: find client %s: %d %s", clientID, st, msg)
	}
	c := found[0]
	attrs, _ := c["attributes"].(map[string]any)
	if attrs == nil {
		attrs = map[string]any{}
	}
	attrs[key] = value
	c["attributes"] = attrs
	if st, msg := masterAdmin(t, http.MethodPut, "/admin/realms/"+r.Name+"/clients/"+fmt.Sprint(c["id"]), c, nil); st != http.StatusNoContent {
		t.Fatalf("testenv: update client %s: %d %s", clientID, st, msg)
	}
}
