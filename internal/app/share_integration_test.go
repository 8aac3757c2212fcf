package app_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// storedAccessRows counts the access tokens the database keeps for row id.
func storedAccessRows(t *testing.T, svc *testenv.Service, id string) int {
	t.Helper()
	var n int
	require.NoError(t, svc.App.Store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM auth_vault_access WHERE row_id = $1`, id).Scan(&n))
	return n
}

// TestOneRefreshPerLifetimeAcrossReplicas: three replicas (own caches, pools and single
// flights) on one database; 30 access-token calls for one row, spread round-robin over
// them by 10 concurrent callers, cost Keycloak exactly one refresh grant and all answer
// the same access token. A forced refresh (min_ttl beyond the token's life,
// refresh-token-id) still refreshes; deleting the row deletes the access token stored
// for it.
func TestOneRefreshPerLifetimeAcrossReplicas(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	var counters [3]testenv.CallCounter
	var replicas []*testenv.Service
	for i := range counters {
		replicas = append(replicas, testenv.StartService(t, cfg, app.WithKeycloakTransport(counters[i].Wrap)))
	}
	for _, r := range replicas {
		waitCacheFeed(t, r)
	}
	refreshes := func() int64 {
		var n int64
		for i := range counters {
			n += counters[i].TokenCalls()
		}
		return n
	}
	id, alice := storeRefresh(t, replicas[0], testenv.Realm, testenv.Alice)
	require.Zero(t, storedAccessRows(t, replicas[0], id))

	tokens := make([]string, 30)
	var wg sync.WaitGroup
	for c := range 10 {
		wg.Go(func() {
			for k := range 3 {
				i := c*3 + k
				resp := accessToken(t, replicas[i%3], alice.AccessToken, id, "")
				if assert.Equal(t, http.StatusOK, resp.Status, string(resp.Body)) {
					tokens[i] = resp.Data(t)["access_token"].(string)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), refreshes(), "one refresh grant for 30 calls over 3 replicas (per replica: %d %d %d)",
		counters[0].TokenCalls(), counters[1].TokenCalls(), counters[2].TokenCalls())
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(tokens))), 1, "one access token")
	assert.Equal(t, 1, storedAccessRows(t, replicas[0], id))

	t.Run("min_ttl beyond the token's life refreshes", func(t *testing.T) {
		before := refreshes()
		resp := accessToken(t, replicas[1], alice.AccessToken, id, "&min_ttl=3600")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		assert.NotEqual(t, tokens[0], resp.Data(t)["access_token"])
		assert.Equal(t, before+1, refreshes())
		for _, r := range replicas {
			require.Equal(t, http.StatusOK, accessToken(t, r, alice.AccessToken, id, "").Status)
		}
		assert.Equal(t, before+1, refreshes(), "the others keep serving a token that outlives min_ttl")
	})
	t.Run("refresh-token-id refreshes", func(t *testing.T) {
		before := refreshes()
		resp := replicas[2].Do(t, http.MethodPost, "/v1/refresh-token-id", alice.AccessToken, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		assert.Equal(t, before+1, refreshes())
	})
	t.Run("deleting the row deletes its stored access token", func(t *testing.T) {
		service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
		resp := replicas[0].Do(t, http.MethodDelete, "/v1/tokens/"+id, alice.AccessToken, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		assert.Zero(t, storedAccessRows(t, replicas[0], id))
		for i, r := range replicas {
			require.Eventually(t, func() bool { return accessToken(t, r, service, id, "").Status == http.StatusNotFound },
				2*time.Second, 10*time.Millisecond, "replica %d still answers for the deleted row", i)
		}
	})
}

// TestSlowKeycloakLeavesThePoolToOthers: Keycloak answers refresh grants after 2 s (a
// delaying proxy at KEYCLOAK_URL); with a pool of 4 and at most 2 refreshes at once, 8
// concurrent misses of distinct rows wait for a slot without holding a connection, so
// that GET /v1/tokens (database only: jwt mode) and cache hits answer in well under one
// Keycloak call meanwhile, and every miss is served in the end.
func TestSlowKeycloakLeavesThePoolToOthers(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{})
	const delay = 2 * time.Second
	proxy := testenv.StartKeycloakProxy(t, 0)
	cfg := realm.ServiceConfig(t)
	cfg.Keycloak.URL = proxy.URL
	cfg.Auth.Mode = config.AuthModeJWT
	cfg.Database.PoolSize, cfg.Database.MaxOverflow = 2, 2
	cfg.Keycloak.Concurrency = 2
	svc := testenv.StartService(t, cfg)
	waitCacheFeed(t, svc)

	alice := realm.Login(t, testenv.Alice, "")
	userID := testenv.Claims(t, alice.AccessToken)["sub"].(string)
	var ids []string
	for range 9 {
		off := realm.Login(t, testenv.Alice, "openid offline_access")
		row, err := svc.App.Vault.StoreOffline(context.Background(), userID, testenv.Claims(t, off.AccessToken)["sid"].(string), off.RefreshToken, nil)
		require.NoError(t, err)
		ids = append(ids, row.ID)
	}
	hot, cold := ids[0], ids[1:]
	require.Equal(t, http.StatusOK, accessToken(t, svc, alice.AccessToken, hot, "").Status, "warm one row")

	proxy.SetDelay(delay)
	start := time.Now()
	var wg sync.WaitGroup
	misses := make([]int, len(cold))
	for i, id := range cold {
		wg.Go(func() { misses[i] = accessToken(t, svc, alice.AccessToken, id, "").Status })
	}
	require.Eventually(t, func() bool { return proxy.Refreshes() >= 3 }, 5*time.Second, 5*time.Millisecond, "refreshes at Keycloak")

	var listings, hits []time.Duration
	for time.Since(start) < 2*delay {
		t0 := time.Now()
		resp := svc.Do(t, http.MethodGet, "/v1/tokens", alice.AccessToken, nil)
		listings = append(listings, time.Since(t0))
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Len(t, resp.DataList(t), len(ids))
		t0 = time.Now()
		require.Equal(t, http.StatusOK, accessToken(t, svc, alice.AccessToken, hot, "").Status)
		hits = append(hits, time.Since(t0))
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	drained := time.Since(start)
	for i, st := range misses {
		assert.Equal(t, http.StatusOK, st, "miss %d", i)
	}
	slowest := func(d []time.Duration) time.Duration { return slices.Max(d) }
	t.Logf("FIGURES Keycloak delayed %s, pool 4, 2 refresh slots, %d concurrent misses (drained in %s): GET /v1/tokens slowest %s of %d, cache hit slowest %s of %d",
		delay, len(cold), drained.Round(time.Millisecond), slowest(listings), len(listings), slowest(hits), len(hits))
	assert.Less(t, slowest(listings), delay/2, "GET /v1/tokens waited on the refreshes")
	assert.Less(t, slowest(hits), delay/2, "a cache hit waited on the refreshes")
	assert.Equal(t, int64(2), proxy.MaxInFlight(), "two refreshes at Keycloak at a time")
	assert.GreaterOrEqual(t, drained, time.Duration(len(cold)/2)*delay-delay/2, "in %d waves", len(cold)/2)
}
