package keycloak_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// exchangeRealm is a fresh copy of the dev realm (whose service client may exchange
// tokens for orders-api) and a client of the service for it.
func exchangeRealm(t *testing.T) (*testenv.TestRealm, *keycloak.Client) {
	t.Helper()
	return exchangeRealmWith(t, testenv.RealmOptions{})
}

// exchangeRealmWith is exchangeRealm, created with opt.
func exchangeRealmWith(t *testing.T, opt testenv.RealmOptions) (*testenv.TestRealm, *keycloak.Client) {
	t.Helper()
	realm := testenv.DefineRealm(t)
	realm.Create(opt)
	cfg := testenv.Config(t)
	cfg.Keycloak.Realm = realm.Name
	kc := keycloak.New(keycloak.Options{IssuerURL: cfg.Keycloak.IssuerURL(), BaseURL: cfg.Keycloak.BaseURL,
		Realm: realm.Name, ClientID: cfg.Keycloak.ClientID, ClientSecret: cfg.Keycloak.ClientSecret.Reveal(),
		Timeout: 10 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return realm, kc
}

// userAccessToken is alice's access token as the service mints it: the refresh grant
// on a stored refresh token.
func userAccessToken(t *testing.T, realm *testenv.TestRealm, kc *keycloak.Client) string {
	t.Helper()
	login := realm.Login(t, testenv.Alice, "openid")
	ts, err := kc.Refresh(t.Context(), login.RefreshToken, 0)
	require.NoError(t, err)
	return ts.AccessToken
}

// TestExchangeForAudienceOnTheRealKeycloak: the exchanged token's aud is exactly the
// requested client (the user's token carries more), it is alice's, for the same
// session, and Keycloak's introspection reports it active.
func TestExchangeForAudienceOnTheRealKeycloak(t *testing.T) {
	realm, kc := exchangeRealm(t)
	subject := userAccessToken(t, realm, kc)
	broad, err := keycloak.TokenAudience(subject)
	require.NoError(t, err)
	require.Greater(t, len(broad), 1, "the user's token carries more than one audience: %v", broad)
	require.Contains(t, broad, testenv.AudienceClient)

	ts, err := kc.ExchangeForAudience(t.Context(), subject, testenv.AudienceClient, "")
	require.NoError(t, err)
	aud, err := keycloak.TokenAudience(ts.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, keycloak.Audience{testenv.AudienceClient}, aud, "aud is exactly the requested client")
	assert.Equal(t, "Bearer", ts.TokenType)
	assert.WithinDuration(t, time.Now().Add(5*time.Minute), ts.Expiry, time.Minute, "the realm's access token lifespan")

	in := testenv.Introspect(t, realm.Name, ts.AccessToken, "access_token")
	assert.Equal(t, true, in["active"], "Keycloak reports the exchanged token active")
	orig := testenv.Claims(t, subject)
	claims := testenv.Claims(t, ts.AccessToken)
	assert.Equal(t, orig["sub"], claims["sub"], "the exchanged token is alice's")
	assert.Equal(t, orig["sid"], claims["sid"], "in the same session")
	assert.Equal(t, testenv.ServiceClient, claims["azp"])

	// An optional client scope of the realm is added on request; aud stays narrow.
	scoped, err := kc.ExchangeForAudience(t.Context(), subject, testenv.AudienceClient, "phone")
	require.NoError(t, err)
	assert.Contains(t, strings.Fields(scoped.Scope), "phone")
	aud, err = keycloak.TokenAudience(scoped.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, keycloak.Audience{testenv.AudienceClient}, aud)
}

// TestExchangeRefusals: each way the realm can refuse comes back as *Error with
// Keycloak's own error and description, and none of them is invalid_grant (which would
// mark the stored token dead).
func TestExchangeRefusals(t *testing.T) {
	realm, kc := exchangeRealm(t)
	subject := userAccessToken(t, realm, kc)
	tests := []struct {
		name, audience, scope, code, description string
		before                                   func()
	}{
		{name: "audience not available to the client", audience: testenv.PlainCallerClient,
			code: "invalid_request", description: "Requested audience not available: " + testenv.PlainCallerClient},
		{name: "no such client", audience: "no-such-client", code: "invalid_client", description: "Audience not found"},
		{name: "unknown scope", audience: testenv.AudienceClient, scope: "no-such-scope", code: "invalid_scope", description: "Invalid scopes: no-such-scope"},
		{name: "exchange not enabled for the client", audience: testenv.AudienceClient, code: "invalid_request",
			description: "Standard token exchange is not enabled for the requested client",
			before:      func() { realm.SetClientAttribute(t, testenv.ServiceClient, "standard.token.exchange.enabled", "false") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			ts, err := kc.ExchangeForAudience(t.Context(), subject, tc.audience, tc.scope)
			assert.Empty(t, ts.AccessToken, "no token on a refusal")
			var ke *keycloak.Error
			require.True(t, errors.As(err, &ke), "%v", err)
			assert.Equal(t, http.StatusBadRequest, ke.Status)
			assert.Equal(t, tc.code, ke.Code)
			assert.Equal(t, tc.description, ke.Description)
			assert.False(t, keycloak.IsInvalidGrant(err))
			assert.False(t, errors.Is(err, keycloak.ErrUnavailable))
		})
	}
}
