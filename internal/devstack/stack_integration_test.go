package devstack_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/devstack"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

func TestCreateDatabase(t *testing.T) {
	admin := testenv.Config(t).Database.URL.Reveal()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, _, err := devstack.CreateDatabase(ctx, admin, "bad; DROP")
	require.ErrorContains(t, err, "prefix")

	u, drop, err := devstack.CreateDatabase(ctx, admin, "devstack_test_")
	require.NoError(t, err)
	assert.Contains(t, u, "/devstack_test_")
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err, "the database exists and the role reaches it")
	var tables int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables))
	assert.Zero(t, tables, "it is empty")

	require.NoError(t, drop(ctx), "dropped even with a connection open")
	assert.Error(t, conn.Ping(ctx), "its connections are closed")
	_, err = pgx.Connect(ctx, u)
	assert.ErrorContains(t, err, "does not exist")
	assert.NoError(t, drop(ctx), "dropping twice is not an error")
}

// countingTransport counts the token endpoint's calls.
type countingTransport struct{ grants atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/token") {
		c.grants.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestKeycloakUsersAndGrants(t *testing.T) {
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	counter := &countingTransport{}
	kc := devstack.NewKeycloak(testenv.KeycloakBase(t)+"/", &http.Client{Transport: counter})
	admin := kc.ServiceAccount(realm.Name, testenv.ServiceClient, testenv.ServiceClientSecret)

	id, err := admin.CreateUser(ctx, realm.Name, "devstack-user-1", "pw-devstack-1")
	require.NoError(t, err)
	require.NotEmpty(t, id)
	_, err = admin.CreateUser(ctx, realm.Name, "devstack-user-1", "pw")
	assert.ErrorContains(t, err, "409", "a taken name is refused")
	users, err := admin.UsersWithPrefix(ctx, realm.Name, "devstack-", 10)
	require.NoError(t, err)
	require.Len(t, users, 1)
	assert.Equal(t, id, users[0].ID)
	assert.Positive(t, users[0].Created)
	assert.EqualValues(t, 1, counter.grants.Load(), "one admin token for every admin call")

	tk, err := kc.Password(ctx, realm.Name, testenv.ServiceClient, testenv.ServiceClientSecret, "devstack-user-1", "pw-devstack-1", "")
	require.NoError(t, err, "a created user can log in")
	assert.NotEmpty(t, tk.AccessToken)
	assert.Contains(t, tk.Scope, "openid")
	next, err := kc.Refresh(ctx, realm.Name, testenv.ServiceClient, testenv.ServiceClientSecret, tk.RefreshToken)
	require.NoError(t, err)
	assert.NotEmpty(t, next.AccessToken)
	cc, err := kc.ClientCredentials(ctx, realm.Name, testenv.ServiceCallerClient, testenv.ServiceCallerSecret)
	require.NoError(t, err)
	assert.NotEmpty(t, cc.AccessToken)

	require.NoError(t, admin.DeleteUser(ctx, realm.Name, id))
	assert.NoError(t, admin.DeleteUser(ctx, realm.Name, id), "a user already gone is not an error")
	users, err = admin.UsersWithPrefix(ctx, realm.Name, "devstack-", 10)
	require.NoError(t, err)
	assert.Empty(t, users)

	_, err = kc.Refresh(ctx, realm.Name, testenv.ServiceClient, testenv.ServiceClientSecret, next.RefreshToken)
	var refused *devstack.GrantError
	require.True(t, errors.As(err, &refused), "%v", err)
	assert.Equal(t, http.StatusBadRequest, refused.Status, "the deleted user's session went with it")
	assert.Equal(t, "invalid_grant", refused.Code)
	assert.NotContains(t, err.Error(), next.RefreshToken, "a refusal never carries the token")
}

func TestMasterAdmin(t *testing.T) {
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := devstack.NewKeycloak(testenv.KeycloakBase(t), http.DefaultClient).
		MasterAdmin(testenv.Env("KEYCLOAK_ADMIN_USER", "admin"), testenv.Env("KEYCLOAK_ADMIN_PASSWORD", "admin"))
	var rep struct {
		Realm       string `json:"realm"`
		DisplayName string `json:"displayName"`
	}
	ans, err := admin.Do(ctx, http.MethodGet, devstack.RealmPath(realm.Name, ""), nil, &rep)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, ans.Status)
	assert.Equal(t, realm.Name, rep.Realm)

	ans, err = admin.Do(ctx, http.MethodPut, devstack.RealmPath(realm.Name, ""), map[string]any{"displayName": "devstack test"}, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, ans.Status)
	_, err = admin.Do(ctx, http.MethodGet, devstack.RealmPath(realm.Name, ""), nil, &rep)
	require.NoError(t, err)
	assert.Equal(t, "devstack test", rep.DisplayName, "the body was sent as JSON")
	ans, err = admin.Do(ctx, http.MethodPut, devstack.RealmPath(realm.Name, ""), []byte(`{"displayName":"raw bytes"}`), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, ans.Status)
	_, err = admin.Do(ctx, http.MethodGet, devstack.RealmPath(realm.Name, ""), nil, &rep)
	require.NoError(t, err)
	assert.Equal(t, "raw bytes", rep.DisplayName, "bytes are sent as they are, not as a base64 string")

	ans, err = admin.Do(ctx, http.MethodGet, devstack.RealmPath("no-such-realm-devstack", ""), nil, &rep)
	require.NoError(t, err, "a status is an answer, not an error")
	assert.Equal(t, http.StatusNotFound, ans.Status)

	_, err = devstack.NewKeycloak(testenv.KeycloakBase(t), http.DefaultClient).MasterAdmin("admin", "wrong-password").
		Do(ctx, http.MethodGet, devstack.RealmPath(realm.Name, ""), nil, nil)
	var refused *devstack.GrantError
	require.True(t, errors.As(err, &refused), "%v", err)
	assert.Equal(t, http.StatusUnauthorized, refused.Status)
	assert.NotContains(t, err.Error(), "wrong-password")
}

func TestKeycloakProxy(t *testing.T) {
	p, err := devstack.StartKeycloakProxy(testenv.KeycloakBase(t))
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kc := devstack.NewKeycloak(p.URL, http.DefaultClient)

	login, err := kc.Password(ctx, testenv.Realm, testenv.ServiceClient, testenv.ServiceClientSecret,
		testenv.Alice.Name, testenv.Alice.Password, "")
	require.NoError(t, err, "requests pass through")
	assert.Equal(t, testenv.KeycloakBase(t)+"/realms/"+testenv.Realm, testenv.Claims(t, login.AccessToken)["iss"],
		"Keycloak's own Host is passed on, so the issuer does not change")
	sid := devstack.SessionOf(login.RefreshToken)
	require.NotEmpty(t, sid)
	assert.Zero(t, p.Refreshes(), "a password grant is not a refresh")

	p.SetDelay(300 * time.Millisecond)
	start := time.Now()
	_, err = kc.Refresh(ctx, testenv.Realm, testenv.ServiceClient, testenv.ServiceClientSecret, login.RefreshToken)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "the refresh grant was held")
	p.SetDelay(0)
	_, err = kc.Refresh(ctx, testenv.Realm, testenv.ServiceClient, testenv.ServiceClientSecret, login.RefreshToken)
	require.NoError(t, err)

	assert.EqualValues(t, 2, p.Refreshes())
	assert.EqualValues(t, 1, p.MaxInFlight())
	bySession, most := p.TakeGrants()
	assert.Equal(t, map[string]int{sid: 2}, bySession, "counted by the session of the token presented")
	assert.EqualValues(t, 1, most)
	bySession, most = p.TakeGrants()
	assert.Empty(t, bySession, "taken counts start afresh")
	assert.Zero(t, most)
	assert.EqualValues(t, 2, p.Refreshes(), "the total is kept")

	assert.Empty(t, devstack.SessionOf("not-a-jwt"))
	assert.Empty(t, devstack.SessionOf("a.!!!.c"))
}
