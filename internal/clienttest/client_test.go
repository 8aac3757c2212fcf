package clienttest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/auth-manager/auth-manager/client"
	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// counter is an http.RoundTripper that counts the requests it sends, per path.
type counter struct {
	mu    sync.Mutex
	paths map[string]int
	all   atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.paths == nil {
		c.paths = map[string]int{}
	}
	c.paths[r.URL.Path]++
	c.mu.Unlock()
	c.all.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) calls(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths[path]
}

// stack is the service running in-process against the real PostgreSQL and Keycloak,
// with alice's refresh token stored.
type stack struct {
	svc     *testenv.Service
	realm   string
	aliceID string // alice's persistent token id
	alice   testenv.Tokens
	caller  oauth2.TokenSource // the service caller's client credentials
}

func startStack(t *testing.T) *stack {
	t.Helper()
	testenv.Integration(t)
	svc := testenv.StartService(t, serviceCallers(testenv.NewServiceConfig(t)))
	return storeAlice(t, &stack{svc: svc, realm: testenv.Realm}, testenv.Login(t, testenv.Alice))
}

// startStackInRealm is startStack on a fresh copy of the dev realm, for tests that
// change the realm or count Keycloak calls.
func startStackInRealm(t *testing.T, opts ...app.Option) (*stack, *testenv.TestRealm) {
	t.Helper()
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{})
	svc := testenv.StartService(t, serviceCallers(realm.ServiceConfig(t)), opts...)
	return storeAlice(t, &stack{svc: svc, realm: realm.Name}, realm.Login(t, testenv.Alice, "openid")), realm
}

// serviceCallers lets the test's caller client act as a service caller (it has the
// service role; AUTH_MANAGER_SERVICE_CLIENTS must name it too).
func serviceCallers(cfg config.Config) config.Config {
	if !slices.Contains(cfg.Auth.ServiceClients, testenv.ServiceCallerClient) {
		cfg.Auth.ServiceClients = append(slices.Clone(cfg.Auth.ServiceClients), testenv.ServiceCallerClient)
	}
	return cfg
}

func storeAlice(t *testing.T, s *stack, alice testenv.Tokens) *stack {
	t.Helper()
	s.alice = alice
	frontend, err := client.New(s.svc.URL, nil) // a backend that only acts as its users
	require.NoError(t, err)
	s.aliceID, err = frontend.AsUser(s.alice.AccessToken).StoreRefreshToken(t.Context(), s.alice.RefreshToken)
	require.NoError(t, err)
	require.NotEmpty(t, s.aliceID)
	s.caller = (&clientcredentials.Config{
		ClientID: testenv.ServiceCallerClient, ClientSecret: testenv.ServiceCallerSecret,
		TokenURL: testenv.TokenEndpoint(t, s.realm),
	}).TokenSource(t.Context())
	return s
}

func (s *stack) serviceClient(t *testing.T, opts ...client.Option) (*client.Client, *counter) {
	t.Helper()
	cnt := &counter{}
	opts = append([]client.Option{client.WithHTTPClient(&http.Client{Transport: cnt, Timeout: 20 * time.Second})}, opts...)
	c, err := client.New(s.svc.URL, s.caller, opts...)
	require.NoError(t, err)
	return c, cnt
}

// TestTokenSourceForAServiceCaller: a service caller gets alice's access token through
// TokenSource, Keycloak says it is active, and a second Token() makes no call.
func TestTokenSourceForAServiceCaller(t *testing.T) {
	s := startStack(t)
	am, cnt := s.serviceClient(t)
	ts := am.TokenSource(t.Context(), s.aliceID)

	tok, err := ts.Token()
	require.NoError(t, err)
	assert.Equal(t, "Bearer", tok.TokenType)
	assert.True(t, tok.Expiry.After(time.Now().Add(client.DefaultMinTTL)), "the token outlives the minimum lifetime")
	in := testenv.Introspect(t, s.realm, tok.AccessToken, "access_token")
	assert.Equal(t, true, in["active"], "Keycloak reports the token active")
	assert.Equal(t, testenv.Claims(t, s.alice.AccessToken)["sub"].(string), in["sub"], "the token is alice's")
	require.Equal(t, 1, cnt.calls("/v1/access-token"))

	again, err := ts.Token()
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, again.AccessToken)
	assert.Equal(t, 1, cnt.calls("/v1/access-token"), "a second Token() within the lifetime makes no HTTP call")
	assert.Equal(t, int64(1), cnt.all.Load(), "nor any other call")

	// The source plugs into oauth2.NewClient: the request carries alice's token.
	var got string
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Authorization") }))
	defer down.Close()
	resp, err := oauth2.NewClient(t.Context(), ts).Get(down.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "Bearer "+tok.AccessToken, got)
}

// TestDeletedTokenIsNotFound: after DeleteToken, the id gives ErrNotFound, typed.
func TestDeletedTokenIsNotFound(t *testing.T) {
	s := startStack(t)
	am, _ := s.serviceClient(t)
	d, err := am.DeleteToken(t.Context(), s.aliceID)
	require.NoError(t, err)
	assert.True(t, d.TokenDeleted)
	assert.Equal(t, s.aliceID, d.PersistentTokenID)

	_, err = am.TokenSource(t.Context(), s.aliceID).Token()
	require.Error(t, err)
	assert.True(t, errors.Is(err, client.ErrNotFound), "%v", err)
	var e *client.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, http.StatusNotFound, e.Status)
	assert.Equal(t, "token_not_found", e.Code)
	assert.NotEmpty(t, e.RequestID)
	assert.False(t, errors.Is(err, client.ErrUnavailable))
}

// TestStoppedServiceRetriesThenFails: a service that stops answering gives a
// connection error that is retried with backoff and ends, typed, within the caller's
// deadline.
func TestStoppedServiceRetriesThenFails(t *testing.T) {
	s := startStack(t)
	front := httptest.NewServer(s.svc.App.Handler)
	cnt := &counter{}
	policy := client.RetryPolicy{Attempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	am, err := client.New(front.URL, s.caller, client.WithRetry(policy),
		client.WithHTTPClient(&http.Client{Transport: cnt, Timeout: 5 * time.Second}))
	require.NoError(t, err)
	_, err = am.AccessToken(t.Context(), s.aliceID)
	require.NoError(t, err, "the service answers while it runs")
	front.Close()

	const deadline = 5 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	_, err = am.AccessToken(ctx, s.aliceID)
	took := time.Since(start)
	require.Error(t, err)
	assert.True(t, errors.Is(err, client.ErrUnavailable), "%v", err)
	var e *client.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, client.CodeUnreachable, e.Code)
	assert.Less(t, took, deadline)
	assert.Equal(t, 1+policy.Attempts, int(cnt.all.Load()), "one call while it ran, then every attempt")
	// Three waits of at least half of 100, 200 and 400 ms.
	assert.GreaterOrEqual(t, took, 350*time.Millisecond, "the retries back off")

	// Not idempotent: no retry.
	before := cnt.all.Load()
	_, err = am.ReissueOfflineToken(ctx)
	assert.True(t, errors.Is(err, client.ErrUnavailable), "%v", err)
	assert.Equal(t, before+1, cnt.all.Load(), "a call that is not idempotent is sent once")
}

// TestEveryEndpoint calls each typed method against the real service once.
func TestEveryEndpoint(t *testing.T) {
	s := startStack(t)
	ctx := t.Context()
	am, _ := s.serviceClient(t)
	user := am.AsUser(s.alice.AccessToken) // the same client, acting as alice for these calls
	aliceSub := testenv.Claims(t, s.alice.AccessToken)["sub"].(string)

	v, err := user.ValidateToken(ctx)
	require.NoError(t, err)
	assert.True(t, v.Valid)
	assert.Equal(t, aliceSub, v.Subject)
	assert.False(t, v.ServiceCaller)
	sv, err := am.ValidateToken(ctx)
	require.NoError(t, err)
	assert.True(t, sv.ServiceCaller, "the test's caller client is a service caller")

	a, err := am.AccessToken(ctx, s.aliceID, client.WithMinTTL(10*time.Second))
	require.NoError(t, err)
	assert.NotEmpty(t, a.AccessToken)
	assert.Positive(t, a.ExpiresIn)

	id, err := user.RefreshStoredToken(ctx)
	require.NoError(t, err)
	assert.Equal(t, s.aliceID, id, "the same row is refreshed")

	ts, err := am.Tokens(ctx, aliceSub)
	require.NoError(t, err)
	require.Len(t, ts, 1)
	assert.Equal(t, s.aliceID, ts[0].PersistentTokenID)
	assert.Equal(t, "refresh", ts[0].TokenType)
	assert.Equal(t, "active", ts[0].Status)
	own, err := user.Tokens(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, ts[0].PersistentTokenID, own[0].PersistentTokenID)

	ss, err := am.Sessions(ctx, aliceSub)
	require.NoError(t, err)
	sid := testenv.Claims(t, s.alice.AccessToken)["sid"]
	var found bool
	for _, x := range ss {
		if x.SessionID == sid && x.Type == "online" {
			found = true
			assert.Contains(t, x.StoredTokenIDs, s.aliceID)
		}
	}
	assert.True(t, found, "alice's session is listed with her stored token")

	k, err := user.OfflineConsentURL(ctx)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(k.ConsentURL, testenv.KeycloakBase(t)), k.ConsentURL)
	assert.Contains(t, k.ConsentURL, "code_challenge_method=S256")

	_, err = user.ReissueOfflineToken(ctx)
	assert.True(t, errors.Is(err, client.ErrNotFound), "no offline token stored for the session: %v", err)
	_, err = am.DeleteOfflineToken(ctx, "6f1c2a9e-1b7d-4c55-9a51-5c0f4b8f9d11")
	assert.True(t, errors.Is(err, client.ErrNotFound), "%v", err)

	rev, err := am.DeleteSession(ctx, sid.(string), "")
	require.NoError(t, err)
	assert.True(t, rev.Revoked)
	assert.Equal(t, 1, rev.TokensDeleted)
	_, err = am.AccessToken(ctx, s.aliceID)
	assert.True(t, errors.Is(err, client.ErrNotFound), "the session's token went with it: %v", err)
}
