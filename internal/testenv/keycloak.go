package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/devstack"
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
type Tokens = devstack.Tokens

// KeycloakBase is the stack's Keycloak base URL.
func KeycloakBase(t testing.TB) string { return Config(t).Keycloak.BaseURL }

// TokenEndpoint is a realm's token endpoint.
func TokenEndpoint(t testing.TB, realm string) string { return keycloak(t).TokenEndpoint(realm) }

// keycloak is the stack's Keycloak through the default HTTP client.
func keycloak(t testing.TB) *devstack.Keycloak {
	return devstack.NewKeycloak(KeycloakBase(t), http.DefaultClient)
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
	tk, err := keycloak(t).Grant(ctx, realm, form)
	if err != nil {
		t.Fatalf("testenv: token request: %v", err)
	}
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
