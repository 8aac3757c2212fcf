package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// storeRefresh stores u's refresh token through the API and returns the row id and the
// login used.
func storeRefresh(t *testing.T, svc *testenv.Service, realm string, u testenv.User) (string, testenv.Tokens) {
	t.Helper()
	tk := testenv.PasswordLogin(t, realm, testenv.ServiceClient, testenv.ServiceClientSecret, u, "openid")
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", tk.AccessToken, map[string]any{"refresh_token": tk.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	return resp.Data(t)["persistent_token_id"].(string), tk
}

func accessToken(t *testing.T, svc *testenv.Service, bearer, id, query string) testenv.Response {
	t.Helper()
	return svc.Do(t, http.MethodPost, "/v1/access-token?id="+id+query, bearer, nil)
}

func waitCacheFeed(t *testing.T, svc *testenv.Service) {
	t.Helper()
	require.Eventually(t, func() bool { return svc.App.Tokens.CacheStats().Healthy }, 5*time.Second, 10*time.Millisecond)
}

func TestAccessToken(t *testing.T) {
	calls := &testenv.CallCounter{}
	svc := testenv.StartService(t, testenv.NewServiceConfig(t), app.WithKeycloakTransport(calls.Wrap))
	waitCacheFeed(t, svc)
	id, alice := storeRefresh(t, svc, testenv.Realm, testenv.Alice)
	sub := testenv.Claims(t, alice.AccessToken)["sub"]

	resp := accessToken(t, svc, alice.AccessToken, id, "")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	d := resp.Data(t)
	at := d["access_token"].(string)
	assert.Greater(t, d["expires_in"].(float64), 200.0)
	intro := testenv.Introspect(t, testenv.Realm, at, "access_token")
	assert.Equal(t, true, intro["active"], "Keycloak reports the minted token active")
	assert.Equal(t, sub, intro["sub"])

	t.Run("cache hit serves the same token without Keycloak", func(t *testing.T) {
		before := calls.TokenCalls()
		resp := accessToken(t, svc, alice.AccessToken, id, "")
		require.Equal(t, http.StatusOK, resp.Status)
		assert.Equal(t, at, resp.Data(t)["access_token"])
		assert.Equal(t, before, calls.TokenCalls())
	})
	t.Run("min_ttl above the remaining life forces a refresh", func(t *testing.T) {
		before := calls.TokenCalls()
		resp := accessToken(t, svc, alice.AccessToken, id, "&min_ttl=3600")
		require.Equal(t, http.StatusOK, resp.Status)
		assert.NotEqual(t, at, resp.Data(t)["access_token"])
		assert.Equal(t, before+1, calls.TokenCalls())
	})
	t.Run("ownership", func(t *testing.T) {
		bob := testenv.Login(t, testenv.Bob).AccessToken
		foreign := accessToken(t, svc, bob, id, "")
		missing := accessToken(t, svc, bob, "00000000-0000-4000-8000-000000000000", "")
		require.Equal(t, http.StatusNotFound, foreign.Status)
		assert.JSONEq(t, string(missing.Body), string(foreign.Body))
		plain := testenv.ClientToken(t, testenv.Realm, testenv.PlainCallerClient, testenv.PlainCallerSecret).AccessToken
		assert.Equal(t, http.StatusNotFound, accessToken(t, svc, plain, id, "").Status, "no role, no access")
		service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
		resp := accessToken(t, svc, service, id, "")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		assert.Equal(t, sub, testenv.Claims(t, resp.Data(t)["access_token"].(string))["sub"])
	})
	t.Run("validation", func(t *testing.T) {
		for _, q := range []string{"", "?id=nope", "?id=" + id + "&min_ttl=-1", "?id=" + id + "&min_ttl=x", "?id=" + id + "&min_ttl=4000"} {
			resp := svc.Do(t, http.MethodPost, "/v1/access-token"+q, alice.AccessToken, nil)
			assert.Equal(t, http.StatusUnprocessableEntity, resp.Status, q)
			assert.Equal(t, "validation_error", resp.JSON(t)["code"], q)
		}
	})
	t.Run("refresh-token-id", func(t *testing.T) {
		resp := svc.Do(t, http.MethodPost, "/v1/refresh-token-id", alice.AccessToken, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		assert.Equal(t, id, resp.Data(t)["persistent_token_id"])
		bob := testenv.Login(t, testenv.Bob).AccessToken
		assert.Equal(t, http.StatusNotFound, svc.Do(t, http.MethodPost, "/v1/refresh-token-id", bob, nil).Status)
		service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
		assert.Equal(t, http.StatusBadRequest, svc.Do(t, http.MethodPost, "/v1/refresh-token-id", service, nil).Status)
	})
	assert.NotContains(t, svc.Logs.String(), at)
	assert.NotContains(t, svc.Logs.String(), alice.RefreshToken)
}

// TestAccessTokenRotationAcrossProcesses: with refresh-token rotation and max reuse 0,
// concurrent calls for one id from 4 goroutines against each of two service instances
// (own pools, caches and single flights; one database) all succeed and the stored token
// still works. With or without the in-memory cache, Keycloak sees one refresh between
// the two instances: the one that waited for the row lock answers the token the other
// stored. Asking for a min_ttl longer than a token lives makes every call refresh, one
// after the other under the row lock, and rotation stays safe.
func TestAccessTokenRotationAcrossProcesses(t *testing.T) {
	cases := []struct {
		name      string
		cacheSize int
		query     string
		calls     int
	}{
		{"cache on", 10000, "", 200},
		{"cache off", 0, "", 200},
		{"cache off, every call refreshes", 0, "&min_ttl=3600", 60},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testenv.NewServiceConfig(t)
			cfg.Keycloak.Realm = testenv.RotationRealm
			cfg.Tokens.CacheSize = tc.cacheSize
			var counters [2]testenv.CallCounter
			a := testenv.StartService(t, cfg, app.WithKeycloakTransport(counters[0].Wrap))
			b := testenv.StartService(t, cfg, app.WithKeycloakTransport(counters[1].Wrap))
			if tc.cacheSize > 0 {
				waitCacheFeed(t, a)
				waitCacheFeed(t, b)
			}
			id, user := storeRefresh(t, a, testenv.RotationRealm, testenv.Carol)
			var wg sync.WaitGroup
			errs := make(chan string, tc.calls)
			for g := 0; g < 4; g++ {
				for _, svc := range []*testenv.Service{a, b} {
					wg.Add(1)
					go func(svc *testenv.Service) {
						defer wg.Done()
						for i := 0; i < tc.calls/8; i++ {
							resp := accessToken(t, svc, user.AccessToken, id, tc.query)
							if resp.Status != http.StatusOK {
								errs <- string(resp.Body)
							}
						}
					}(svc)
				}
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Errorf("call failed: %s", e)
			}
			refreshes := counters[0].TokenCalls() + counters[1].TokenCalls()
			if tc.query == "" {
				assert.Equal(t, int64(1), refreshes, "one refresh between the two instances (A %d, B %d)",
					counters[0].TokenCalls(), counters[1].TokenCalls())
			} else {
				// Concurrent calls in one instance share one flight.
				assert.LessOrEqual(t, refreshes, int64(tc.calls))
				assert.GreaterOrEqual(t, refreshes, int64(2))
				t.Logf("every call refreshing: %d calls cost %d refreshes", tc.calls, refreshes)
			}
			row, err := a.App.Store.Get(context.Background(), id)
			require.NoError(t, err)
			stored, err := a.App.Vault.Open(row)
			require.NoError(t, err)
			assert.NotEqual(t, user.RefreshToken, stored, "the rotated successor replaced the stored token")
			status, kcErr := testenv.RefreshAtKeycloak(t, testenv.RotationRealm, stored)
			assert.Equal(t, http.StatusOK, status, "the stored token still works: %s", kcErr)
		})
	}
}

func TestAccessTokenInvalidGrantMarksRow(t *testing.T) {
	calls := &testenv.CallCounter{}
	svc := testenv.StartService(t, testenv.NewServiceConfig(t), app.WithKeycloakTransport(calls.Wrap))
	id, bob := storeRefresh(t, svc, testenv.Realm, testenv.Bob)
	// Under make test's parallel load Keycloak has refreshed a token of a session its
	// admin logout had just answered 204 for: log out until Keycloak itself reports the
	// stored token inactive, so that what follows tests the service, not that race.
	sub := testenv.Claims(t, bob.AccessToken)["sub"].(string)
	require.Eventually(t, func() bool {
		testenv.AdminLogout(t, testenv.Realm, sub)
		return testenv.Introspect(t, testenv.Realm, bob.RefreshToken, "refresh_token")["active"] == false
	}, 15*time.Second, 250*time.Millisecond, "Keycloak still reports bob's refresh token active after admin logout")
	service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken

	resp := accessToken(t, svc, service, id, "&min_ttl=3600")
	require.Equal(t, http.StatusBadGateway, resp.Status, string(resp.Body))
	body := resp.JSON(t)
	assert.Equal(t, "keycloak_error", body["code"])
	assert.Equal(t, "invalid_grant", body["details"].(map[string]any)["error"])
	row, err := svc.App.Store.Get(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, store.StatusInvalid, row.Status)
	assert.Contains(t, row.LastError, "invalid_grant")

	listed := svc.Do(t, http.MethodGet, "/v1/tokens?user_id="+row.UserID, service, nil)
	require.Equal(t, http.StatusOK, listed.Status)
	item := listed.JSON(t)["data"].([]any)[0].(map[string]any)
	assert.Equal(t, "invalid", item["status"], "GET /v1/tokens shows the row unusable")
	assert.Contains(t, item["last_error"], "invalid_grant")

	before := calls.TokenCalls()
	again := accessToken(t, svc, service, id, "")
	assert.Equal(t, http.StatusBadGateway, again.Status)
	assert.JSONEq(t, string(resp.Body), string(again.Body), "the same clear error")
	assert.Equal(t, before, calls.TokenCalls(), "fails fast without calling Keycloak")
}

func TestDeleteOnOneReplicaEvictsEverywhere(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	a := testenv.StartService(t, cfg)
	b := testenv.StartService(t, cfg)
	waitCacheFeed(t, a)
	waitCacheFeed(t, b)
	id, alice := storeRefresh(t, a, testenv.Realm, testenv.Alice)
	require.Equal(t, http.StatusOK, accessToken(t, b, alice.AccessToken, id, "").Status)
	require.Equal(t, 1, b.App.Tokens.CacheStats().Size, "B holds the token in its cache")

	service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
	require.Equal(t, http.StatusOK, accessToken(t, b, service, id, "").Status, "from B's cache")
	require.Equal(t, http.StatusOK, a.Do(t, http.MethodDelete, "/v1/tokens/"+id, alice.AccessToken, nil).Status)
	deleted := time.Now()
	for {
		// A service caller's view: alice's own token dies with the revocation (issue 13).
		resp := accessToken(t, b, service, id, "")
		if resp.Status == http.StatusNotFound {
			break
		}
		require.Less(t, time.Since(deleted), 100*time.Millisecond, "B still served a cached token 100 ms after the delete")
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("evicted on B after %s", time.Since(deleted))
}

func TestOfflineRowStaysOfflineAfterRotation(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	cfg.Keycloak.Realm = testenv.RotationRealm
	svc := testenv.StartService(t, cfg)
	tk := testenv.PasswordLogin(t, testenv.RotationRealm, testenv.ServiceClient, testenv.ServiceClientSecret, testenv.Alice, "openid offline_access")
	require.Equal(t, "Offline", testenv.Claims(t, tk.RefreshToken)["typ"])
	claims := testenv.Claims(t, tk.AccessToken)
	row := store.Row{Meta: store.Meta{ID: store.NewID(), UserID: claims["sub"].(string), Type: store.Offline, SessionID: claims["sid"].(string)}}
	row, err := svc.App.Vault.Seal(row, tk.RefreshToken)
	require.NoError(t, err)
	_, err = svc.App.Store.Create(context.Background(), row)
	require.NoError(t, err)

	resp := accessToken(t, svc, tk.AccessToken, row.ID, "")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	after, err := svc.App.Store.Get(context.Background(), row.ID)
	require.NoError(t, err)
	assert.Equal(t, store.Offline, after.Type)
	stored, err := svc.App.Vault.Open(after)
	require.NoError(t, err)
	assert.NotEqual(t, tk.RefreshToken, stored, "rotated")
	assert.Equal(t, "Offline", testenv.Claims(t, stored)["typ"], "the successor is an offline token, stored as OFFLINE")
	var n int
	require.NoError(t, svc.App.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM auth_vault WHERE token_type = 'REFRESH'`).Scan(&n))
	assert.Zero(t, n, "no REFRESH row was written (the Python service's bug)")
}

// TestKeycloakUnreachable: a closed port and a Keycloak that stalls both answer within
// the configured timeout with the 503 envelope.
func TestKeycloakUnreachable(t *testing.T) {
	stall := make(chan struct{})
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer fake.Close()
	defer close(stall)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for name, issuer := range map[string]string{"closed port": closedURL, "stalling": fake.URL} {
		t.Run(name, func(t *testing.T) {
			cfg := testenv.NewServiceConfig(t)
			cfg.Keycloak.BaseURL = issuer
			cfg.Keycloak.Timeout = time.Second
			cfg.Keycloak.Retries = 1
			cfg.Auth.Mode = config.AuthModeJWT
			svc := testenv.StartService(t, cfg)
			token := testenv.Login(t, testenv.Alice).AccessToken // the real Keycloak's time is not the service's
			start := time.Now()
			resp := svc.Do(t, http.MethodGet, "/v1/validate-token", token, nil)
			elapsed := time.Since(start)
			require.Equal(t, http.StatusServiceUnavailable, resp.Status, string(resp.Body))
			assert.Equal(t, "service_unavailable", resp.JSON(t)["code"])
			assert.Less(t, elapsed, 3*time.Second)
		})
	}
}
