package introspect_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/introspect"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// providerOnly hands the authenticator a real provider; jwt mode needs nothing else.
type providerOnly struct{ p *oidc.Provider }

func (k providerOnly) Provider(context.Context) (*oidc.Provider, error) { return k.p, nil }

func (providerOnly) Introspect(context.Context, string, string) (keycloak.Claims, error) {
	return keycloak.Claims{}, errors.New("not used in jwt mode")
}

type countJWKS struct {
	rt    http.RoundTripper
	certs atomic.Int64
}

func (c *countJWKS) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/certs") {
		c.certs.Add(1)
	}
	return c.rt.RoundTrip(r)
}

// TestJWTModeFetchesKeysOnce: in jwt mode the realm's keys are fetched once and kept,
// not downloaded again for every request (issue 9's profile: a JWKS download per
// request made jwt mode 30× slower than introspect mode and dependent on Keycloak).
func TestJWTModeFetchesKeysOnce(t *testing.T) {
	cfg := testenv.Config(t)
	counter := &countJWKS{rt: http.DefaultTransport}
	// Whatever client go-oidc picks, from the provider or from the request's context, is
	// the counting one.
	ctx := oidc.ClientContext(context.Background(), &http.Client{Transport: counter})
	p, err := oidc.NewProvider(ctx, cfg.Keycloak.IssuerURL())
	require.NoError(t, err)
	a := introspect.New(providerOnly{p}, introspect.Options{Mode: "jwt", ServiceRole: "auth-manager-service", ClientID: cfg.Keycloak.ClientID})

	alice := testenv.Login(t, testenv.Alice)
	for range 20 {
		c, err := a.Authenticate(ctx, alice.AccessToken)
		require.NoError(t, err)
		assert.NotEmpty(t, c.Subject)
	}
	assert.EqualValues(t, 1, counter.certs.Load(), "JWKS downloads for 20 verifications")

	_, err = a.Authenticate(ctx, alice.IDToken)
	assert.ErrorIs(t, err, introspect.ErrUnauthorized, "an ID token is not a bearer token")
}

// TestJWTModeRemembersTokensUntilExp: an accepted token's claims are reused for the
// cache TTL, never past the token's exp, after which it is verified again (and refused).
func TestJWTModeRemembersTokensUntilExp(t *testing.T) {
	cfg := testenv.Config(t)
	p, err := oidc.NewProvider(context.Background(), cfg.Keycloak.IssuerURL())
	require.NoError(t, err)
	alice := testenv.Login(t, testenv.Alice)
	exp := time.Unix(int64(testenv.Claims(t, alice.AccessToken)["exp"].(float64)), 0)

	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	a := introspect.New(providerOnly{p}, introspect.Options{Mode: "jwt", CacheTTL: time.Hour,
		Now: func() time.Time { return time.Unix(0, now.Load()) }})
	first, err := a.Authenticate(context.Background(), alice.AccessToken)
	require.NoError(t, err)
	again, err := a.Authenticate(context.Background(), alice.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, first, again)

	now.Store(exp.Add(time.Second).UnixNano())
	_, err = a.Authenticate(context.Background(), alice.AccessToken)
	assert.ErrorIs(t, err, introspect.ErrNotActive, "past exp the cached answer is not used")
}
