package vault

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func jwt(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	return "eyJhbGciOiJIUzUxMiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

func TestCheckSubmitted(t *testing.T) {
	s := &Service{opt: Options{Issuer: "http://kc/realms/r", ClientID: "am"}}
	good := map[string]any{"typ": "Refresh", "iss": "http://kc/realms/r", "azp": "am", "sub": "u1"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	require.NoError(t, s.checkSubmitted(jwt(t, good), "u1"))
	require.NoError(t, s.checkSubmitted(jwt(t, with("typ", "Offline")), "u1"))
	for name, tok := range map[string]string{
		"empty":          "",
		"not a JWT":      "abc",
		"bad base64":     "a.%%%.c",
		"not JSON":       "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c",
		"access token":   jwt(t, with("typ", "Bearer")),
		"other realm":    jwt(t, with("iss", "http://kc/realms/other")),
		"other client":   jwt(t, with("azp", "frontend")),
		"other user":     jwt(t, with("sub", "u2")),
		"typ not string": jwt(t, with("typ", 5)),
	} {
		err := s.checkSubmitted(tok, "u1")
		var inv *InvalidTokenError
		assert.True(t, errors.As(err, &inv), name)
	}
}

func FuzzCheckSubmitted(f *testing.F) {
	s := &Service{opt: Options{Issuer: "http://kc/realms/r", ClientID: "am"}}
	f.Add(jwt(f, map[string]any{"typ": "Refresh", "iss": "http://kc/realms/r", "azp": "am", "sub": "u1"}))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		err := s.checkSubmitted(tok, "u1")
		if err != nil {
			var inv *InvalidTokenError
			require.ErrorAs(t, err, &inv)
			require.NotContains(t, inv.Problem, "eyJ", "a refusal never quotes the token")
		}
	})
}
