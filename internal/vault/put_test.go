package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/store"
)

func jwt(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	return "eyJhbGciOiJIUzUxMiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

// introspecter answers introspection with a fixed answer and counts the calls. The
// real Keycloak's answers are exercised by the integration tests; this one lets the
// unit tests say exactly what Keycloak vouched for.
type introspecter struct {
	answer keycloak.Claims
	err    error
	calls  int
}

func (f *introspecter) Introspect(context.Context, string, string) (keycloak.Claims, error) {
	f.calls++
	return f.answer, f.err
}

func (f *introspecter) Revoke(context.Context, string, string) error { return nil }

func assertRefused(t *testing.T, err error, msg string) {
	t.Helper()
	var pe *problem.Error
	require.True(t, errors.As(err, &pe), msg)
	assert.ErrorIs(t, err, problem.ErrValidation, msg)
	assert.Contains(t, pe.Details, "body.refresh_token", msg)
}

func TestVerifySubmitted(t *testing.T) {
	const iss = "http://kc/realms/r"
	good := map[string]any{"typ": "Refresh", "iss": iss, "azp": "am", "sub": "u1", "sid": "claimed-sid"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	vouchedFor := keycloak.Claims{Active: true, Type: "Offline", Issuer: iss, AuthorizedParty: "am", Subject: "u1", SessionID: "keycloak-sid"}
	svc := func(answer keycloak.Claims, err error) (*Service, *introspecter) {
		kc := &introspecter{answer: answer, err: err}
		return &Service{kc: kc, opt: Options{Issuer: iss, ClientID: "am"}}, kc
	}

	t.Run("the row is built from Keycloak's answer, not the payload", func(t *testing.T) {
		s, kc := svc(vouchedFor, nil)
		v, err := s.verifySubmitted(context.Background(), jwt(t, good), "u1")
		require.NoError(t, err)
		assert.Equal(t, vouched{typ: store.Offline, userID: "u1", sessionID: "keycloak-sid"}, v)
		assert.Equal(t, 1, kc.calls)
	})
	t.Run("obvious mistakes cost no Keycloak call", func(t *testing.T) {
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
			s, kc := svc(vouchedFor, nil)
			_, err := s.verifySubmitted(context.Background(), tok, "u1")
			assertRefused(t, err, name)
			assert.Zero(t, kc.calls, name)
		}
	})
	t.Run("what Keycloak does not vouch for is refused", func(t *testing.T) {
		answer := func(change func(*keycloak.Claims)) keycloak.Claims {
			c := vouchedFor
			change(&c)
			return c
		}
		for name, a := range map[string]keycloak.Claims{
			"inactive (forged, expired, revoked)": {Active: false},
			"another user's":                      answer(func(c *keycloak.Claims) { c.Subject = "u2" }),
			"another client's":                    answer(func(c *keycloak.Claims) { c.AuthorizedParty = "frontend" }),
			"another realm's":                     answer(func(c *keycloak.Claims) { c.Issuer = "http://kc/realms/x" }),
			"an access token":                     answer(func(c *keycloak.Claims) { c.Type = "Bearer" }),
			"no session":                          answer(func(c *keycloak.Claims) { c.SessionID = "" }),
		} {
			s, _ := svc(a, nil)
			_, err := s.verifySubmitted(context.Background(), jwt(t, good), "u1")
			assertRefused(t, err, name)
		}
	})
	t.Run("Keycloak's failure is not a verdict", func(t *testing.T) {
		s, _ := svc(keycloak.Claims{}, keycloak.ErrUnavailable)
		_, err := s.verifySubmitted(context.Background(), jwt(t, good), "u1")
		assert.ErrorIs(t, err, keycloak.ErrUnavailable)
	})
}

// FuzzVerifySubmitted: whatever a caller submits, a refusal never quotes it, Keycloak
// is asked only about tokens whose payload could be the caller's, and nothing but
// Keycloak's answer can make it stored.
func FuzzVerifySubmitted(f *testing.F) {
	f.Add(jwt(f, map[string]any{"typ": "Refresh", "iss": "http://kc/realms/r", "azp": "am", "sub": "u1", "sid": "x"}))
	f.Add(jwt(f, map[string]any{"typ": "Offline", "iss": "http://kc/realms/r", "azp": "am", "sub": "u1", "sid": "../../x"}))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		kc := &introspecter{answer: keycloak.Claims{Active: false}}
		s := &Service{kc: kc, opt: Options{Issuer: "http://kc/realms/r", ClientID: "am"}}
		_, err := s.verifySubmitted(context.Background(), tok, "u1")
		var pe *problem.Error
		require.ErrorAs(t, err, &pe, "an inactive token is never accepted")
		require.NotContains(t, pe.Details["body.refresh_token"], "eyJ", "a refusal never quotes the token")
		cl, ok := readClaims(tok)
		if kc.calls > 0 {
			require.True(t, ok && cl.Sub == "u1" && cl.Iss == "http://kc/realms/r" && cl.Azp == "am")
		}
	})
}
