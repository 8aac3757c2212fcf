package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The dev/test realm's fixtures (deploy/keycloak/auth-manager.json).
const (
	Realm         = "auth-manager"
	RotationRealm = "auth-manager-rotation"

	ServiceClient       = "auth-manager" // the service's own confidential client
	ServiceClientSecret = "auth-manager-dev-secret"
	ServiceCallerClient = "auth-manager-service-caller" // has the service role
	ServiceCallerSecret = "service-caller-secret"
	PlainCallerClient   = "auth-manager-plain-caller" // has no special role
	PlainCallerSecret   = "plain-caller-secret"
	ShortClient         = "auth-manager-short" // access tokens live 2 s
	ShortClientSecret   = "short-secret"
	// AudienceClient is a downstream service the service's client may exchange tokens
	// for (standard token exchange; an audience mapper makes it available).
	AudienceClient = "orders-api"
)

// User is a test user of the realm.
type User struct{ Name, Password string }

// Test users (each has the offline_access role).
var (
	Alice = User{"alice", "alice-password"}
	Bob   = User{"bob", "bob-password"}
	Carol = User{"carol", "carol-password"}
)

// Tokens is Keycloak's token endpoint answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int    `json:"expires_in"`
	SessionState string `json:"session_state"`
	Scope        string `json:"scope"`
}

// KeycloakBase is the stack's Keycloak base URL.
func KeycloakBase(t testing.TB) string { return Config(t).Keycloak.BaseURL }

// TokenEndpoint is a realm's token endpoint.
func TokenEndpoint(t testing.TB, realm string) string {
	return KeycloakBase(t) + "/realms/" + realm + "/protocol/openid-connect/token"
}

// PasswordLogin logs user in on client with the password grant (a new Keycloak
// session each time).
func PasswordLogin(t testing.TB, realm, client, secret string, u User, scope string) Tokens {
	t.Helper()
	if scope == "" {
		scope = "openid"
	}
	return tokenRequest(t, realm, url.Values{"grant_type": {"password"}, "client_id": {client},
		"client_secret": {secret}, "username": {u.Name}, "password": {u.Password}, "scope": {scope}})
}

// Login logs user in on the service's client of the main realm.
func Login(t testing.TB, u User) Tokens {
	t.Helper()
	return PasswordLogin(t, Realm, ServiceClient, ServiceClientSecret, u, "openid")
}

// ClientToken gets a client-credentials token.
func ClientToken(t testing.TB, realm, client, secret string) Tokens {
	t.Helper()
	return tokenRequest(t, realm, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}})
}

func tokenRequest(t testing.TB, realm string, form url.Values) Tokens {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, TokenEndpoint(t, realm), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("testenv: Keycloak does not answer (run `make stack-up`): %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("testenv: token request (%s) failed: %d %s", form.Get("grant_type"), resp.StatusCode, body)
	}
	var tk Tokens
	Must(t, json.Unmarshal(body, &tk), "decode token answer")
	return tk
}

// Claims decodes a JWT's payload without verifying it (tests only).
func Claims(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("testenv: not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	Must(t, err, "decode JWT payload")
	var m map[string]any
	Must(t, json.Unmarshal(raw, &m), "parse JWT payload")
	return m
}
