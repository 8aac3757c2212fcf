package keycloak

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func jwtWith(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

// TestExchangeSendsRFC8693AndNeverReturnsABroaderToken: the request is the standard
// token exchange with the client's credentials; an answer whose token is not narrowed
// to exactly the audience, or is not an access token, or is garbage, gives no token.
// (The real Keycloak cannot be made to answer wrongly; a fake stands in.)
func TestExchangeSendsRFC8693AndNeverReturnsABroaderToken(t *testing.T) {
	f := newFake(t)
	var form map[string][]string
	var user string
	answer := func(body map[string]any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			require.NoError(t, r.ParseForm())
			form = r.PostForm
			user, _, _ = r.BasicAuth()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(body)
		}
	}
	kc := f.client(5 * time.Second)

	f.token = answer(map[string]any{"access_token": jwtWith(t, map[string]any{"aud": "orders-api"}), "token_type": "Bearer",
		"expires_in": 300, "scope": "openid phone", "issued_token_type": tokenTypeAccess})
	ts, err := kc.ExchangeForAudience(t.Context(), "subject", "orders-api", "phone")
	require.NoError(t, err)
	assert.Equal(t, "openid phone", ts.Scope)
	assert.WithinDuration(t, time.Now().Add(300*time.Second), ts.Expiry, 5*time.Second)
	assert.Equal(t, "am", user, "the service's client authenticates")
	assert.Equal(t, []string{grantTokenExchange}, form["grant_type"])
	assert.Equal(t, []string{"subject"}, form["subject_token"])
	assert.Equal(t, []string{tokenTypeAccess}, form["subject_token_type"])
	assert.Equal(t, []string{tokenTypeAccess}, form["requested_token_type"])
	assert.Equal(t, []string{"orders-api"}, form["audience"])
	assert.Equal(t, []string{"phone"}, form["scope"])

	for name, body := range map[string]map[string]any{
		"broader audience": {"access_token": jwtWith(t, map[string]any{"aud": []string{"orders-api", "account"}}), "issued_token_type": tokenTypeAccess},
		"another audience": {"access_token": jwtWith(t, map[string]any{"aud": "account"}), "issued_token_type": tokenTypeAccess},
		"no audience":      {"access_token": jwtWith(t, map[string]any{"sub": "u"})},
		"not a JWT":        {"access_token": "opaque"},
		"a refresh token":  {"access_token": jwtWith(t, map[string]any{"aud": "orders-api"}), "issued_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
		"no token":         {"token_type": "Bearer"},
	} {
		t.Run(name, func(t *testing.T) {
			f.token = answer(body)
			ts, err := kc.ExchangeForAudience(t.Context(), "subject", "orders-api", "")
			require.Error(t, err)
			assert.Empty(t, ts.AccessToken)
			var ke *Error
			assert.True(t, errors.Is(err, ErrBroaderToken) || errors.As(err, &ke), "%v", err)
		})
	}

	_, err = kc.ExchangeForAudience(t.Context(), "subject", "", "")
	assert.Error(t, err, "an audience is required")
}

func TestTokenAudience(t *testing.T) {
	aud, err := TokenAudience(jwtWith(t, map[string]any{"aud": []string{"a", "b"}}))
	require.NoError(t, err)
	assert.Equal(t, Audience{"a", "b"}, aud)
	aud, err = TokenAudience(jwtWith(t, map[string]any{"aud": "a"}))
	require.NoError(t, err)
	assert.Equal(t, Audience{"a"}, aud)
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c",
		"a." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":7}`)) + ".c"} {
		_, err := TokenAudience(bad)
		assert.Error(t, err, bad)
	}
}

// FuzzTokenAudience: the payload reader never panics and, when it succeeds, returns
// what the payload's aud says.
func FuzzTokenAudience(f *testing.F) {
	f.Add([]byte(`{"aud":"orders-api"}`))
	f.Add([]byte(`{"aud":["a","b"],"sub":"x"}`))
	f.Add([]byte(`{"aud":null}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		aud, err := TokenAudience("h." + base64.RawURLEncoding.EncodeToString(payload) + ".s")
		if err != nil {
			return
		}
		var want struct {
			Aud Audience `json:"aud"`
		}
		if json.Unmarshal(payload, &want) != nil {
			t.Fatalf("accepted a payload encoding/json rejects: %q", payload)
		}
		assert.Equal(t, want.Aud, aud)
	})
}
