package clienttest

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/client"
	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestAudienceNarrowedToken: through the real service and Keycloak, WithAudience gives
// alice's token with aud exactly orders-api (her plain token carries more), Keycloak's
// introspection reports it active, and it is reused: by the token source without a call,
// by the service without asking Keycloak again. Another granted scope is another token,
// a scope the stored token was never granted is refused; deleting the stored token
// drops the narrowed ones with it.
func TestAudienceNarrowedToken(t *testing.T) {
	t.Parallel() // each creates its own realm, which takes Keycloak a while
	kc := &testenv.CallCounter{}
	s, _ := startStackInRealm(t, app.WithKeycloakTransport(kc.Wrap))
	am, cnt := s.serviceClient(t)
	ctx := t.Context()

	plain, err := am.AccessToken(ctx, s.aliceID)
	require.NoError(t, err)
	require.Greater(t, len(audiences(t, plain.AccessToken)), 1, "the plain token carries several audiences")

	ts := am.TokenSource(ctx, s.aliceID, client.WithAudience(testenv.AudienceClient))
	tok, err := ts.Token()
	require.NoError(t, err)
	assert.Equal(t, []string{testenv.AudienceClient}, audiences(t, tok.AccessToken), "aud is exactly the requested client")
	in := testenv.Introspect(t, s.realm, tok.AccessToken, "access_token")
	assert.Equal(t, true, in["active"], "Keycloak reports the narrowed token active")
	assert.Equal(t, testenv.Claims(t, s.alice.AccessToken)["sub"], in["sub"], "it is alice's")

	calls := cnt.calls("/v1/access-token")
	again, err := ts.Token()
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, again.AccessToken)
	assert.Equal(t, calls, cnt.calls("/v1/access-token"), "the token source reuses it without a call")

	exchanges := kc.TokenCalls()
	cached, err := am.AccessToken(ctx, s.aliceID, client.WithAudience(testenv.AudienceClient))
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, cached.AccessToken, "the service answers from its cache")
	assert.Equal(t, exchanges, kc.TokenCalls(), "without asking Keycloak")

	scoped, err := am.AccessToken(ctx, s.aliceID, client.WithAudience(testenv.AudienceClient), client.WithScope("email"))
	require.NoError(t, err)
	assert.NotEqual(t, tok.AccessToken, scoped.AccessToken, "another scope is another token")
	assert.Contains(t, scoped.Scope, "email")
	assert.Equal(t, []string{testenv.AudienceClient}, audiences(t, scoped.AccessToken))
	assert.Equal(t, exchanges+1, kc.TokenCalls(), "one exchange for the new scope")

	_, err = am.AccessToken(ctx, s.aliceID, client.WithAudience(testenv.AudienceClient), client.WithScope("phone"))
	var e *client.Error
	require.True(t, errors.As(err, &e), "%v", err)
	assert.Equal(t, http.StatusForbidden, e.Status)
	assert.Equal(t, "scope_not_granted", e.Code, "an optional scope alice never granted")
	assert.Equal(t, exchanges+1, kc.TokenCalls(), "refused without asking Keycloak")

	// The row's deletion reaches every replica's cache through the database's
	// notification, a moment after the answer.
	_, err = am.DeleteToken(ctx, s.aliceID)
	require.NoError(t, err)
	for _, opts := range [][]client.TokenOption{
		{client.WithAudience(testenv.AudienceClient)},
		{client.WithAudience(testenv.AudienceClient), client.WithScope("email")},
		nil,
	} {
		assert.Eventually(t, func() bool {
			_, err := am.AccessToken(ctx, s.aliceID, opts...)
			return errors.Is(err, client.ErrNotFound)
		}, 5*time.Second, 20*time.Millisecond, "the cached token went with its row (%d options)", len(opts))
	}
}

// TestAudienceRefused: an audience the realm does not make available to the service's
// client answers 502 keycloak_error with Keycloak's error, and no token.
func TestAudienceRefused(t *testing.T) {
	t.Parallel()
	s, realm := startStackInRealm(t)
	am, _ := s.serviceClient(t)
	ctx := t.Context()

	_, err := am.AccessToken(ctx, s.aliceID, client.WithAudience(testenv.PlainCallerClient))
	var e *client.Error
	require.True(t, errors.As(err, &e), "%v", err)
	assert.True(t, errors.Is(err, client.ErrKeycloak))
	assert.Equal(t, http.StatusBadGateway, e.Status)
	assert.Equal(t, "keycloak_error", e.Code)
	assert.Equal(t, "invalid_request", e.Reason)
	assert.Equal(t, map[string]any{"error": "invalid_request",
		"error_description": "Requested audience not available: " + testenv.PlainCallerClient}, e.Details)

	_, err = am.AccessToken(ctx, s.aliceID, client.WithAudience(testenv.AudienceClient), client.WithScope("no-such-scope"))
	require.True(t, errors.As(err, &e), "%v", err)
	assert.Equal(t, http.StatusForbidden, e.Status)
	assert.Equal(t, "scope_not_granted", e.Code, "refused before Keycloak, which would say invalid_scope")

	realm.SetClientAttribute(t, testenv.ServiceClient, "standard.token.exchange.enabled", "false")
	_, err = am.AccessToken(ctx, s.aliceID, client.WithAudience(testenv.AudienceClient))
	require.True(t, errors.As(err, &e), "%v", err)
	assert.Equal(t, "Standard token exchange is not enabled for the requested client", e.Details["error_description"])

	// The stored token is not harmed by the refusals.
	a, err := am.AccessToken(ctx, s.aliceID)
	require.NoError(t, err)
	assert.NotEmpty(t, a.AccessToken)
	own, err := am.Tokens(ctx, testenv.Claims(t, s.alice.AccessToken)["sub"].(string))
	require.NoError(t, err)
	require.Len(t, own, 1)
	assert.Equal(t, "active", own[0].Status)
}

// TestAudienceBadInput: the service refuses malformed audience and scope before
// anything reaches Keycloak.
func TestAudienceBadInput(t *testing.T) {
	s := startStack(t)
	for _, q := range []string{"&audience=", "&audience=a%20b", "&scope=phone", "&audience=orders-api&scope=a%20%20b", "&audience=orders-api&scope=%22x%22"} {
		r := s.svc.Do(t, http.MethodPost, "/v1/access-token?id="+s.aliceID+q, s.alice.AccessToken, nil)
		assert.Equal(t, http.StatusUnprocessableEntity, r.Status, q)
		assert.Equal(t, "validation_error", r.JSON(t)["code"], q)
	}
}

func audiences(t *testing.T, jwt string) []string {
	t.Helper()
	switch aud := testenv.Claims(t, jwt)["aud"].(type) {
	case string:
		return []string{aud}
	case []any:
		out := make([]string, 0, len(aud))
		for _, a := range aud {
			out = append(out, a.(string))
		}
		return out
	}
	return nil
}
