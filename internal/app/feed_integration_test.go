package app_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// deleteToken deletes row id through svc as its owner.
func deleteToken(t *testing.T, svc *testenv.Service, bearer, id string) {
	t.Helper()
	resp := svc.Do(t, http.MethodDelete, "/v1/tokens/"+id, bearer, nil)
	require.Less(t, resp.Status, 300, string(resp.Body))
}

// serviceCaller is a service caller's token of realm (one that may act for any user):
// deleting a refresh token's row ends its owner's session, and with it the owner's
// bearer token.
func serviceCaller(t *testing.T, realm string) string {
	t.Helper()
	return testenv.ClientToken(t, realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
}

// notFoundAfter polls svc for row id's access token (as the service caller bearer)
// until it answers 404 and returns how long after start that was (failing after limit).
func notFoundAfter(t *testing.T, svc *testenv.Service, bearer, id string, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	for {
		resp := svc.Do(t, http.MethodPost, "/v1/access-token?id="+id, bearer, nil)
		if resp.Status == http.StatusNotFound {
			return time.Since(start)
		}
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Less(t, time.Since(start), limit, "row %s still served %s after its delete", id, limit)
		time.Sleep(2 * time.Millisecond)
	}
}

// viaPgBouncer is cfg reaching its database through the stack's PgBouncer in
// transaction mode, with DATABASE_POOL_MODE=transaction.
func viaPgBouncer(t *testing.T, cfg config.Config) config.Config {
	t.Helper()
	cfg.Database.URL = config.Secret(testenv.ThroughPgBouncer(t, cfg.Database.URL.Reveal()))
	cfg.Database.PoolMode = config.PoolModeTransaction
	return cfg
}

// TestPgBouncerTransactionMode: two replicas reach PostgreSQL only through PgBouncer in
// transaction mode (DATABASE_POOL_MODE=transaction). They migrate, store and mint (the
// second call on a replica is a cache hit, without Keycloak); a delete on replica A
// evicts replica B's cached token through the polled feed, and a session ended on A is
// refused by B (jwt mode); no LISTEN runs, no named prepared statement is used and no
// advisory lock is left behind.
func TestPgBouncerTransactionMode(t *testing.T) {
	realm := testenv.DefineRealm(t)
	direct := realm.ServiceConfig(t)
	direct.Auth.Mode = config.AuthModeJWT
	cfg := viaPgBouncer(t, direct)
	realm.Create(testenv.RealmOptions{})
	calls := &testenv.CallCounter{}
	a := testenv.StartService(t, named(t, cfg, "replica-a"))
	b := testenv.StartService(t, named(t, cfg, "replica-b"), app.WithKeycloakTransport(calls.Wrap))
	for _, svc := range []*testenv.Service{a, b} {
		assert.Equal(t, pgx.QueryExecModeExec, svc.App.Store.Pool().Config().ConnConfig.DefaultQueryExecMode)
		waitCacheFeed(t, svc)
	}

	id, alice := storeRefresh(t, a, realm.Name, testenv.Alice)
	first := accessToken(t, b, alice.AccessToken, id, "")
	require.Equal(t, http.StatusOK, first.Status, string(first.Body))
	refreshes := calls.TokenCalls()
	assert.EqualValues(t, 1, refreshes)
	for range 20 {
		again := accessToken(t, b, alice.AccessToken, id, "")
		require.Equal(t, http.StatusOK, again.Status, string(again.Body))
		assert.Equal(t, first.Data(t)["access_token"], again.Data(t)["access_token"])
		for _, svc := range []*testenv.Service{a, b} {
			list := svc.Do(t, http.MethodGet, "/v1/tokens", alice.AccessToken, nil)
			require.Equal(t, http.StatusOK, list.Status, string(list.Body))
		}
	}
	assert.Equal(t, refreshes, calls.TokenCalls(), "B answered from its cache")
	assert.Positive(t, b.App.Tokens.CacheStats().Hits)

	service := serviceCaller(t, realm.Name)
	require.Equal(t, http.StatusOK, accessToken(t, b, service, id, "").Status)
	deleteToken(t, a, alice.AccessToken, id)
	d := notFoundAfter(t, b, service, id, time.Now(), 10*time.Second)
	t.Logf("FIGURES PgBouncer transaction mode, poll %s: B refused the row deleted on A %s after the delete", cfg.Feed.Poll, d)

	bob := realm.Login(t, testenv.Bob, "")
	acceptedEverywhere(t, bob.AccessToken, a, b)
	endSessionOn(t, a, bob)
	ended := refusedAfter(t, time.Now(), 10*time.Second, bob.AccessToken, b)
	t.Logf("FIGURES PgBouncer transaction mode: B refused the session ended on A %s later", ended[0])
	assert.True(t, b.App.Tokens.CacheStats().Healthy, "the polled feed keeps the cache trusted")

	assert.Zero(t, dbQuery[int](t, direct, `SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`), "no advisory lock held")
	assert.Zero(t, dbQuery[int](t, direct, `SELECT count(*)::int FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`), "no LISTEN")
	assert.Zero(t, dbQuery[int](t, direct, `SELECT count(*)::int FROM goose_lock WHERE locked`),
		"migrations took goose's lock row, and released it")
	assert.NotContains(t, a.Logs.String()+b.Logs.String(), "prepared statement")
}

// terminateListenerLoop terminates the LISTEN connection of the replica named name
// every few milliseconds (so that it stays down however fast it reconnects) until the
// returned stop is called, which reports how many it terminated.
func terminateListenerLoop(t *testing.T, cfg config.Config, name string) (stop func() int) {
	t.Helper()
	const terminate = `SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND (query LIKE 'LISTEN %' OR query = 'SELECT 1')`
	conn, err := pgx.Connect(t.Context(), cfg.Database.URL.Reveal())
	require.NoError(t, err)
	done := make(chan struct{})
	var killed int
	var killErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			var n int
			if err := conn.QueryRow(context.Background(), terminate, name).Scan(&n); err != nil {
				killErr = err
				return
			}
			killed += n
		}
	})
	return func() int {
		close(done)
		wg.Wait()
		_ = conn.Close(context.Background())
		require.NoError(t, killErr)
		return killed
	}
}

// TestListenerOutageKeepsTheCache: replica B's LISTEN connection is terminated (and
// again whenever it comes back) while rows are deleted on replica A; B polls only
// hourly. Once its connection is back, B serves no deleted row's token, and a warm row
// that was not deleted still answers from B's cache without a Keycloak call: the
// replay evicted what the lost notifications would have, and nothing else.
func TestListenerOutageKeepsTheCache(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	calls := &testenv.CallCounter{}
	a := testenv.StartService(t, named(t, cfg, "replica-a"))
	b := testenv.StartService(t, named(t, cfg, "replica-b"), app.WithFeedPoll(time.Hour), app.WithKeycloakTransport(calls.Wrap))
	waitCacheFeed(t, b)
	type row struct {
		id, token string
		owner     testenv.Tokens
	}
	rows := map[string]*row{}
	for _, u := range []testenv.User{testenv.Alice, testenv.Bob, testenv.Carol} {
		id, tk := storeRefresh(t, a, testenv.Realm, u)
		resp := accessToken(t, b, tk.AccessToken, id, "")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		rows[u.Name] = &row{id: id, owner: tk, token: resp.Data(t)["access_token"].(string)}
	}
	require.Equal(t, 3, b.App.Tokens.CacheStats().Size)
	warm := calls.TokenCalls()

	stop := terminateListenerLoop(t, cfg, "replica-b")
	require.Eventually(t, func() bool { return !b.App.Tokens.CacheStats().Healthy }, 5*time.Second, time.Millisecond,
		"B's feed went down")
	for _, name := range []string{"bob", "carol"} {
		deleteToken(t, a, rows[name].owner.AccessToken, rows[name].id)
	}
	time.Sleep(300 * time.Millisecond)
	killed := stop()
	stopped := time.Now()
	require.Positive(t, killed)
	require.Eventually(t, func() bool { return b.App.Tokens.CacheStats().Healthy }, 10*time.Second, time.Millisecond,
		"B's feed is back")
	t.Logf("FIGURES B's listener terminated %d times while 2 rows were deleted on A; B's cache trusted again %s after the terminations stopped",
		killed, time.Since(stopped))

	service := serviceCaller(t, testenv.Realm)
	for _, name := range []string{"bob", "carol"} {
		resp := accessToken(t, b, service, rows[name].id, "")
		assert.Equal(t, http.StatusNotFound, resp.Status, "%s's deleted row: %s", name, resp.Body)
	}
	hits := b.App.Tokens.CacheStats().Hits
	resp := accessToken(t, b, rows["alice"].owner.AccessToken, rows["alice"].id, "")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	assert.Equal(t, rows["alice"].token, resp.Data(t)["access_token"], "the token B cached before the outage")
	assert.Equal(t, warm, calls.TokenCalls(), "no Keycloak call")
	assert.Equal(t, hits+1, b.App.Tokens.CacheStats().Hits)
	assert.Contains(t, b.Logs.String(), "listen connection lost")
	assert.NotContains(t, b.Logs.String(), "cache emptied")
}

// TestReplicaBehindTheRetentionEmptiesItsCache: replica B is cut off from the database
// (its network, not A's) while a row is deleted on A and the eviction is pruned before
// B could read it. When B is back it finds the gap, empties its cache once and serves
// no deleted row; the row that stays is answered from the database again.
func TestReplicaBehindTheRetentionEmptiesItsCache(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	u, err := url.Parse(cfg.Database.URL.Reveal())
	require.NoError(t, err)
	fwd := testenv.Forward(t, u.Host)
	bcfg := named(t, cfg, "replica-b")
	bu, err := url.Parse(bcfg.Database.URL.Reveal())
	require.NoError(t, err)
	bu.Host = fwd.Addr
	bcfg.Database.URL = config.Secret(bu.String())
	a := testenv.StartService(t, named(t, cfg, "replica-a"))
	b := testenv.StartService(t, bcfg)
	waitCacheFeed(t, b)
	aliceID, alice := storeRefresh(t, a, testenv.Realm, testenv.Alice)
	bobID, bob := storeRefresh(t, a, testenv.Realm, testenv.Bob)
	require.Equal(t, http.StatusOK, accessToken(t, b, alice.AccessToken, aliceID, "").Status)
	require.Equal(t, http.StatusOK, accessToken(t, b, bob.AccessToken, bobID, "").Status)
	require.Equal(t, 2, b.App.Tokens.CacheStats().Size)
	service := serviceCaller(t, testenv.Realm)

	fwd.Cut()
	require.Eventually(t, func() bool { return !b.App.Tokens.CacheStats().Healthy }, 10*time.Second, time.Millisecond,
		"B's feed went down")
	deleteToken(t, a, bob.AccessToken, bobID)
	n, err := a.App.Store.PruneEvictions(t.Context(), 0, 1000)
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the eviction is pruned before B read it")
	assert.Equal(t, 2, b.App.Tokens.CacheStats().Size, "cut off, B keeps its entries")
	fwd.Restore()
	require.Eventually(t, func() bool { return b.App.Tokens.CacheStats().Healthy }, 15*time.Second, 5*time.Millisecond,
		"B's feed is back")
	assert.Zero(t, b.App.Tokens.CacheStats().Size, "the gap emptied B's cache")
	assert.Equal(t, 1, strings.Count(b.Logs.String(), "access-token cache emptied"))

	resp := accessToken(t, b, service, bobID, "")
	assert.Equal(t, http.StatusNotFound, resp.Status, string(resp.Body))
	resp = accessToken(t, b, alice.AccessToken, aliceID, "")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	assert.Equal(t, 1, b.App.Tokens.CacheStats().Size, "filled again from the database")
}

// TestEvictionPropagation measures how long after a delete on replica A returns replica
// B stops serving the row's cached token: with LISTEN (direct to PostgreSQL) and with
// the feed polled every AUTH_MANAGER_FEED_POLL_INTERVAL through PgBouncer (then at
// most the interval, half of it on average).
func TestEvictionPropagation(t *testing.T) {
	const rounds = 12
	for _, mode := range []string{"listen", "poll"} {
		t.Run(mode, func(t *testing.T) {
			cfg := testenv.NewServiceConfig(t)
			if mode == "poll" {
				cfg = viaPgBouncer(t, cfg)
			}
			a := testenv.StartService(t, named(t, cfg, "replica-a"))
			b := testenv.StartService(t, named(t, cfg, "replica-b"))
			waitCacheFeed(t, b)
			service := serviceCaller(t, testenv.Realm)
			var took []time.Duration
			for range rounds {
				id, alice := storeRefresh(t, a, testenv.Realm, testenv.Alice)
				require.Equal(t, http.StatusOK, accessToken(t, b, service, id, "").Status)
				require.Equal(t, http.StatusOK, accessToken(t, b, service, id, "").Status)
				// At a random phase of B's poll: each round would otherwise start just
				// after the poll that ended the one before.
				time.Sleep(rand.N(cfg.Feed.Poll))
				deleteToken(t, a, alice.AccessToken, id)
				took = append(took, notFoundAfter(t, b, service, id, time.Now(), 10*time.Second))
			}
			slices.Sort(took)
			if mode == "listen" {
				assert.Less(t, took[rounds/2], 250*time.Millisecond, "woken by NOTIFY, not by the poll")
			}
			assert.Less(t, took[rounds-1], cfg.Feed.Poll+time.Second, "within a poll (and a busy machine's slack)")
			t.Logf("FIGURES eviction propagation (%s, poll %s), delete on A returned → 404 on B, %d rounds: min %s, median %s, max %s",
				mode, cfg.Feed.Poll, rounds, took[0].Round(time.Millisecond), took[rounds/2].Round(time.Millisecond), took[rounds-1].Round(time.Millisecond))
		})
	}
}
