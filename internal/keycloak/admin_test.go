package keycloak_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// calls counts the admin client's requests and can spoil the next admin call's token.
type calls struct {
	token, admin atomic.Int64
	spoilNext    atomic.Bool
}

func (c *calls) wrap(rt http.RoundTripper) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/token"):
			c.token.Add(1)
		case strings.Contains(r.URL.Path, "/admin/realms/"):
			c.admin.Add(1)
			if c.spoilNext.CompareAndSwap(true, false) {
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", "Bearer not-a-token")
			}
		}
		return rt.RoundTrip(r)
	})
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newAdmin(t *testing.T, c *calls) *keycloak.Admin {
	t.Helper()
	cfg := testenv.Config(t)
	kc := keycloak.New(keycloak.Options{IssuerURL: cfg.Keycloak.IssuerURL(), BaseURL: cfg.Keycloak.BaseURL,
		Realm: cfg.Keycloak.Realm, ClientID: cfg.Keycloak.ClientID, ClientSecret: cfg.Keycloak.ClientSecret.Reveal(),
		Timeout: 10 * time.Second, WrapTransport: c.wrap}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return keycloak.NewAdmin(kc)
}

// TestAdminOnTheRealKeycloak: the service account's token is fetched once and reused,
// the client's UUID is looked up once, sessions are listed, and ending an offline
// session kills its tokens and is reported as not found the second time.
func TestAdminOnTheRealKeycloak(t *testing.T) {
	c := &calls{}
	admin := newAdmin(t, c)
	ctx := context.Background()
	tk := testenv.PasswordLogin(t, testenv.Realm, testenv.ServiceClient, testenv.ServiceClientSecret, testenv.Carol, "openid offline_access")
	claims := testenv.Claims(t, tk.RefreshToken)
	require.Equal(t, "Offline", claims["typ"])
	sub, sid := claims["sub"].(string), claims["sid"].(string)
	online := testenv.Login(t, testenv.Carol)
	onlineSID := testenv.Claims(t, online.AccessToken)["sid"].(string)

	uuid, err := admin.ClientUUID(ctx)
	require.NoError(t, err)
	assert.Len(t, uuid, 36)
	offline, err := admin.OfflineSessions(ctx, sub)
	require.NoError(t, err)
	i := slices.IndexFunc(offline, func(s keycloak.Session) bool { return s.ID == sid })
	require.GreaterOrEqual(t, i, 0, "the offline session is listed")
	assert.Equal(t, sub, offline[i].UserID)
	assert.Equal(t, "carol", offline[i].Username)
	assert.Equal(t, testenv.ServiceClient, offline[i].Clients[uuid])
	assert.NotZero(t, offline[i].Start)
	sessions, err := admin.UserSessions(ctx, sub)
	require.NoError(t, err)
	assert.True(t, slices.ContainsFunc(sessions, func(s keycloak.Session) bool { return s.ID == onlineSID }))

	_, err = admin.ClientUUID(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), c.token.Load(), "one service-account token for every call")
	assert.Equal(t, int64(3), c.admin.Load(), "the client UUID is looked up once")

	require.NoError(t, admin.DeleteSession(ctx, sid, true))
	status, kcErr := testenv.RefreshAtKeycloak(t, testenv.Realm, tk.RefreshToken)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, kcErr, "invalid_grant")
	assert.ErrorIs(t, admin.DeleteSession(ctx, sid, true), keycloak.ErrNotFound)

	require.NoError(t, admin.DeleteSession(ctx, onlineSID, false))
	status, _ = testenv.RefreshAtKeycloak(t, testenv.Realm, online.RefreshToken)
	assert.Equal(t, http.StatusBadRequest, status, "the online session is ended too")
}

// TestAdminTokenRejectedIsRefetchedOnce: a 401 (Keycloak restarted, keys rotated)
// drops the cached token and the call is made once more with a fresh one.
func TestAdminTokenRejectedIsRefetchedOnce(t *testing.T) {
	c := &calls{}
	admin := newAdmin(t, c)
	ctx := context.Background()
	_, err := admin.ClientUUID(ctx)
	require.NoError(t, err)
	c.spoilNext.Store(true)
	sub := testenv.Claims(t, testenv.Login(t, testenv.Carol).AccessToken)["sub"].(string)
	_, err = admin.UserSessions(ctx, sub)
	require.NoError(t, err)
	assert.Equal(t, int64(2), c.token.Load(), "the rejected token was replaced once")
	assert.Equal(t, int64(3), c.admin.Load(), "the rejected call was made once more")
}

func TestAdminUnreachableIsUnavailable(t *testing.T) {
	kc := keycloak.New(keycloak.Options{IssuerURL: "http://127.0.0.1:1/realms/r", BaseURL: "http://127.0.0.1:1",
		Realm: "r", ClientID: "c", ClientSecret: "s", Timeout: 2 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	err := keycloak.NewAdmin(kc).DeleteSession(context.Background(), "sid", true)
	assert.ErrorIs(t, err, keycloak.ErrUnavailable)
}
