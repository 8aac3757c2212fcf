package vault

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/problem"
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
	_, err := s.checkSubmitted(jwt(t, good), "u1")
	require.NoError(t, err)
	_, err = s.checkSubmitted(jwt(t, with("typ", "Offline")), "u1")
	require.NoError(t, err)
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
		_, err := s.checkSubmitted(tok, "u1")
		var pe *problem.Error
		assert.True(t, errors.As(err, &pe), name)
		assert.ErrorIs(t, err, problem.ErrValidation, name)
		assert.Contains(t, pe.Details, "body.refresh_token", name)
	}
}

func FuzzCheckSubmitted(f *testing.F) {
	s := &Service{opt: Options{Issuer: "http://kc/realms/r", ClientID: "am"}}
	f.Add(jwt(f, map[string]any{"typ": "Refresh", "iss": "http://kc/realms/r", "azp": "am", "sub": "u1"}))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := s.checkSubmitted(tok, "u1")
		if err != nil {
			var pe *problem.Error
			require.ErrorAs(t, err, &pe)
			require.NotContains(t, pe.Details["body.refresh_token"], "eyJ", "a refusal never quotes the token")
		}
	})
}
