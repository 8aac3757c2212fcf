package introspect

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
)

func TestLooksLikeJWT(t *testing.T) {
	for tok, want := range map[string]bool{
		"aaaaaaaaaa.bbbbbbbbbb.cccccccccc":          true,
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln": true,
		"":                                  false,
		"short":                             false,
		"aaaaaaaaaa.bbbbbbbbbb":             false,
		"aaaaaaaaaa.bbbbbbbbbb.cccc.dddddd": false,
		"aaaaaaaaaa.bbbbbbbbbb.cccccccc=":   false,
		"aaaaaaaaaa.bbbb bbbbb.cccccccccc":  false,
		strings.Repeat("a", 20<<10) + "..":  false,
	} {
		assert.Equal(t, want, looksLikeJWT(tok), tok)
	}
}

// fakeKeycloak answers introspection from a table and counts calls.
type fakeKeycloak struct {
	calls  int
	claims keycloak.Claims
	err    error
}

func (f *fakeKeycloak) Introspect(context.Context, string, string) (keycloak.Claims, error) {
	f.calls++
	return f.claims, f.err
}

func (f *fakeKeycloak) Provider(context.Context) (*oidc.Provider, error) {
	return nil, errors.New("not used")
}

const jwtShaped = "aaaaaaaaaa.bbbbbbbbbb.cccccccccc"

func TestIntrospectionCache(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	kc := &fakeKeycloak{claims: keycloak.Claims{Active: true, Subject: "u1", Type: "Bearer", Expiry: now.Add(10 * time.Second).Unix()}}
	a := New(kc, Options{Mode: "introspect", ServiceRole: "svc", CacheTTL: 30 * time.Second, Now: func() time.Time { return now }})

	c, err := a.Authenticate(context.Background(), jwtShaped)
	require.NoError(t, err)
	assert.Equal(t, "u1", c.Subject)
	_, err = a.Authenticate(context.Background(), jwtShaped)
	require.NoError(t, err)
	assert.Equal(t, 1, kc.calls, "second call served from the cache")

	now = now.Add(11 * time.Second) // past the token's exp, before the TTL
	_, err = a.Authenticate(context.Background(), jwtShaped)
	require.NoError(t, err)
	assert.Equal(t, 2, kc.calls, "the cache never outlives the token")
}

func TestIntrospectionOutcomes(t *testing.T) {
	cases := []struct {
		name   string
		claims keycloak.Claims
		err    error
		want   error
	}{
		{"inactive", keycloak.Claims{Active: false}, nil, ErrNotActive},
		{"refresh token", keycloak.Claims{Active: true, Subject: "u", Type: "Refresh"}, nil, ErrUnauthorized},
		{"no subject", keycloak.Claims{Active: true, Type: "Bearer"}, nil, ErrUnauthorized},
		{"keycloak 400", keycloak.Claims{}, &keycloak.Error{Status: 400, Code: "invalid_request"}, ErrUnauthorized},
		{"keycloak down", keycloak.Claims{}, keycloak.ErrUnavailable, keycloak.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := New(&fakeKeycloak{claims: tc.claims, err: tc.err}, Options{Mode: "introspect", ServiceRole: "svc"})
			_, err := a.Authenticate(context.Background(), jwtShaped)
			assert.ErrorIs(t, err, tc.want)
		})
	}
	_, err := New(&fakeKeycloak{}, Options{Mode: "introspect"}).Authenticate(context.Background(), "not a jwt")
	assert.ErrorIs(t, err, ErrUnauthorized)
}

func TestServiceRole(t *testing.T) {
	realm := keycloak.Claims{Active: true, Subject: "s", Type: "Bearer"}
	realm.RealmAccess.Roles = []string{"auth-manager-service"}
	client := keycloak.Claims{Active: true, Subject: "s", Type: "Bearer", ResourceAccess: map[string]struct {
		Roles []string `json:"roles"`
	}{"auth-manager": {Roles: []string{"auth-manager-service"}}, "other": {Roles: []string{"x"}}}}
	otherClient := keycloak.Claims{Active: true, Subject: "s", Type: "Bearer", ResourceAccess: map[string]struct {
		Roles []string `json:"roles"`
	}{"other": {Roles: []string{"auth-manager-service"}}}}
	for name, tc := range map[string]struct {
		cl   keycloak.Claims
		want bool
	}{"realm role": {realm, true}, "client role": {client, true}, "role of another client": {otherClient, false}} {
		a := New(&fakeKeycloak{claims: tc.cl}, Options{Mode: "introspect", ServiceRole: "auth-manager-service", ClientID: "auth-manager"})
		c, err := a.Authenticate(context.Background(), jwtShaped)
		require.NoError(t, err)
		assert.Equal(t, tc.want, c.Service, name)
	}
}

func FuzzLooksLikeJWT(f *testing.F) {
	f.Add(jwtShaped)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		if looksLikeJWT(s) {
			require.Equal(t, 2, strings.Count(s, "."))
			require.LessOrEqual(t, len(s), 16<<10)
		}
	})
}
