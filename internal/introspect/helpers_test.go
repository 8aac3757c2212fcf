package introspect

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/keyset"
)

const (
	testIssuer = "http://127.0.0.1:8080/realms/test"
	testKID    = "test-key"
)

var testKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

// testKeys is a key set holding testKey that counts its fetches.
type testKeys struct {
	*keyset.Set
	fetches atomic.Int64
}

func newTestKeys(now func() time.Time) *testKeys {
	k := &testKeys{}
	k.Set = keyset.New(func(context.Context) (jose.JSONWebKeySet, error) {
		k.fetches.Add(1)
		return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: testKey.Public(), KeyID: testKID, Algorithm: "RS256", Use: "sig"}}}, nil
	}, keyset.Options{Algs: []string{"RS256", "ES256", "PS256"}, MinRefresh: time.Hour, Now: now})
	return k
}

// claimsAt are a Keycloak access token's claims, issued at now for a minute.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{"iss": testIssuer, "sub": "u1", "sid": "s1", "azp": "app", "typ": "Bearer",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
}

// signWith signs claims with key under kid.
func signWith(t testing.TB, key any, alg jose.SignatureAlgorithm, kid string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	require.NoError(t, err)
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	jws, err := signer.Sign(payload)
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

func sign(t testing.TB, claims any) string { return signWith(t, testKey, jose.RS256, testKID, claims) }

// fakeKeycloak answers introspection with fixed claims and counts calls.
type fakeKeycloak struct {
	calls  atomic.Int64
	claims keycloak.Claims
	err    error
}

func (f *fakeKeycloak) Introspect(context.Context, string, string) (keycloak.Claims, error) {
	f.calls.Add(1)
	return f.claims, f.err
}

// active is an introspection answer for claimsAt(now).
func active(now time.Time) keycloak.Claims {
	return keycloak.Claims{Active: true, Issuer: testIssuer, Subject: "u1", SessionID: "s1", AuthorizedParty: "app",
		Type: "Bearer", Expiry: now.Add(time.Minute).Unix()}
}
