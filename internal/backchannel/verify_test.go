package backchannel

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/problem"
)

const (
	testIssuer = "http://127.0.0.1:8080/realms/test"
	testClient = "auth-manager"
)

var testNow = time.Unix(1_800_000_000, 0)

// testKey is the realm's signing key in these tests.
var testKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func testVerifier() *Verifier {
	return NewVerifierWithKeys(&oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{testKey.Public()}},
		testIssuer, testClient, func() time.Time { return testNow })
}

// goodClaims are the claims Keycloak sends (sections 2.4 and what Keycloak adds).
func goodClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": testClient, "iat": testNow.Unix(), "exp": testNow.Add(2 * time.Minute).Unix(),
		"jti": "5e6ea0a2-1f0b-4e0b-9a35-2c41f6ae4f13", "sub": "6ce676ec-81f2-4efb-9f6f-2cda4849e583",
		"sid": "NcaiCmvSqSPfkQkCPOYW_x2i", "typ": "Logout",
		"events": map[string]any{BackchannelLogoutEvent: map[string]any{}},
	}
}

func sign(t testing.TB, key any, alg jose.SignatureAlgorithm, typ string, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
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

func reasonOf(err error) string {
	var te *problem.Error
	if errors.As(err, &te) {
		return te.Reason
	}
	return ""
}

func TestVerifyAcceptsKeycloaksLogoutToken(t *testing.T) {
	tok, err := testVerifier().Verify(context.Background(), sign(t, testKey, jose.RS256, "logout+jwt", goodClaims()))
	require.NoError(t, err)
	assert.Equal(t, LogoutToken{Subject: "6ce676ec-81f2-4efb-9f6f-2cda4849e583", SessionID: "NcaiCmvSqSPfkQkCPOYW_x2i",
		JTI: "5e6ea0a2-1f0b-4e0b-9a35-2c41f6ae4f13", IssuedAt: testNow,
		RetainUntil: testNow.Add(maxLogoutTokenAge + clockSkew)}, tok)
}

func TestVerifyRefuses(t *testing.T) {
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	with := func(edit func(c map[string]any)) map[string]any {
		c := goodClaims()
		edit(c)
		return c
	}
	cases := []struct {
		name, reason string
		token        func(t *testing.T) string
	}{
		{"empty", "missing", func(*testing.T) string { return "" }},
		{"not a JWT", "malformed", func(*testing.T) string { return "logout" }},
		{"unsigned", "malformed", func(t *testing.T) string {
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"logout+jwt"}`))
			p, _ := json.Marshal(goodClaims())
			return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
		}},
		{"HMAC with the public key as secret", "malformed", func(t *testing.T) string {
			return sign(t, []byte("public-key-bytes-used-as-a-secret"), jose.HS256, "logout+jwt", goodClaims())
		}},
		{"another key", "invalid_signature", func(t *testing.T) string {
			return sign(t, otherKey, jose.RS256, "logout+jwt", goodClaims())
		}},
		{"an ID token's type", "wrong_type", func(t *testing.T) string { return sign(t, testKey, jose.RS256, "JWT", goodClaims()) }},
		{"another issuer", "wrong_issuer", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { c["iss"] = "http://127.0.0.1:8080/realms/other" }))
		}},
		{"another audience", "wrong_audience", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { c["aud"] = []string{"account", "other"} }))
		}},
		{"no audience", "wrong_audience", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { delete(c, "aud") }))
		}},
		{"old iat", "stale", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) {
				c["iat"], c["exp"] = testNow.Add(-10*time.Minute).Unix(), testNow.Add(time.Hour).Unix()
			}))
		}},
		{"iat in the future", "stale", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { c["iat"] = testNow.Add(5 * time.Minute).Unix() }))
		}},
		{"no iat", "malformed", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { delete(c, "iat") }))
		}},
		{"expired", "expired", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { c["exp"] = testNow.Add(-time.Minute).Unix() }))
		}},
		{"no logout event", "not_logout", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { delete(c, "events") }))
		}},
		{"logout event not an object", "not_logout", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) {
				c["events"] = map[string]any{BackchannelLogoutEvent: true}
			}))
		}},
		{"nonce (an ID token)", "nonce", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "", with(func(c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" }))
		}},
		{"no jti", "no_jti", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { delete(c, "jti") }))
		}},
		{"jti not a string", "no_jti", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { c["jti"] = 7 }))
		}},
		{"neither sub nor sid", "no_subject", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { delete(c, "sub"); delete(c, "sid") }))
		}},
		{"sid not a string", "no_subject", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { c["sid"] = []string{"a"} }))
		}},
		{"too long", "malformed", func(t *testing.T) string {
			return sign(t, testKey, jose.RS256, "logout+jwt", with(func(c map[string]any) { c["pad"] = strings.Repeat("x", maxLogoutTokenLen) }))
		}},
	}
	// Refused before the signature verified: nothing the token says is the realm's.
	unsigned := map[string]bool{"empty": true, "not a JWT": true, "unsigned": true, "HMAC with the public key as secret": true,
		"another key": true, "an ID token's type": true, "too long": true}
	v := testVerifier()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token(t))
			require.ErrorIs(t, err, ErrInvalidLogoutToken)
			assert.Equal(t, tc.reason, reasonOf(err))
			if unsigned[tc.name] {
				assert.ErrorIs(t, err, ErrUnverified)
			} else {
				assert.NotErrorIs(t, err, ErrUnverified, "signed with the realm's key")
			}
		})
	}
}

func TestVerifyAcceptsVariants(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	v := NewVerifierWithKeys(&oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{testKey.Public(), ecKey.Public()}},
		testIssuer, testClient, func() time.Time { return testNow })
	cases := []struct {
		name  string
		token string
		check func(t *testing.T, tok LogoutToken)
	}{
		{"sub only, no typ header, no exp, aud array", sign(t, testKey, jose.RS256, "", func() map[string]any {
			c := goodClaims()
			delete(c, "sid")
			delete(c, "exp")
			c["aud"] = []string{"account", testClient}
			return c
		}()), func(t *testing.T, tok LogoutToken) { assert.Empty(t, tok.SessionID); assert.NotEmpty(t, tok.Subject) }},
		{"sid only, ES256, application/logout+jwt", sign(t, ecKey, jose.ES256, "application/logout+jwt", func() map[string]any {
			c := goodClaims()
			delete(c, "sub")
			return c
		}()), func(t *testing.T, tok LogoutToken) { assert.Empty(t, tok.Subject); assert.NotEmpty(t, tok.SessionID) }},
		{"Keycloak's revoke_offline_access event", sign(t, testKey, jose.RS256, "logout+jwt", func() map[string]any {
			c := goodClaims()
			c["events"] = map[string]any{BackchannelLogoutEvent: map[string]any{}, "revoke_offline_access": true}
			return c
		}()), func(t *testing.T, tok LogoutToken) { assert.True(t, tok.RevokeOffline) }},
		{"iat within the clock skew", sign(t, testKey, jose.RS256, "logout+jwt", func() map[string]any {
			c := goodClaims()
			c["iat"] = testNow.Add(clockSkew / 2).Unix()
			return c
		}()), func(t *testing.T, tok LogoutToken) { assert.False(t, tok.RevokeOffline) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := v.Verify(context.Background(), tc.token)
			require.NoError(t, err)
			tc.check(t, tok)
		})
	}
}

// FuzzCheckClaims feeds arbitrary payloads to the claim checks: they must never
// panic, and whatever they accept must satisfy every rule.
func FuzzCheckClaims(f *testing.F) {
	good, _ := json.Marshal(goodClaims())
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"iss":"` + testIssuer + `","aud":["auth-manager"],"iat":1800000000,"jti":"x","sid":"s","events":{"` + BackchannelLogoutEvent + `":{}}}`))
	f.Add([]byte(`{"iat":1e300,"exp":-1,"events":null,"nonce":null}`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		tok, err := checkClaims(payload, testIssuer, testClient, testNow)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidLogoutToken)
			return
		}
		assert.NotEmpty(t, tok.JTI)
		assert.LessOrEqual(t, len(tok.JTI), maxClaimLen)
		assert.True(t, tok.Subject != "" || tok.SessionID != "")
		assert.False(t, tok.IssuedAt.Before(testNow.Add(-maxLogoutTokenAge)))
		assert.False(t, tok.IssuedAt.After(testNow.Add(clockSkew)))
		assert.True(t, tok.RetainUntil.After(testNow))
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(payload, &m))
		_, hasNonce := m["nonce"]
		assert.False(t, hasNonce)
	})
}

// FuzzVerify feeds arbitrary strings to the whole verification path (header parsing,
// signature, claims): never a panic, never an acceptance without the realm's key.
func FuzzVerify(f *testing.F) {
	f.Add(sign(f, testKey, jose.RS256, "logout+jwt", goodClaims()))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + "." + strings.Repeat("C", 100))
	v := testVerifier()
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := v.Verify(context.Background(), raw)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidLogoutToken)
			return
		}
		// Only a token signed with testKey can pass; the seed is one, and any mutation
		// that still verifies must carry valid claims.
		assert.NotEmpty(t, tok.JTI)
	})
}
