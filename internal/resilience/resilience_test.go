//go:build resilience

package resilience

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// refreshAlways asks for a min_ttl longer than any access token of the realms lives:
// neither a cache nor the database's copy of the last token can answer, so the call
// presents the stored token to Keycloak.
const refreshAlways = "&min_ttl=3600"

// TestReplicasRotateWithoutErrors: three service processes on one database, a realm with
// refresh-token rotation and max reuse 0, the cache disabled; 300 concurrent
// access-token calls spread over the three for the same 10 ids, each with a min_ttl
// longer than a token lives, so that every call refreshes. Every call succeeds and
// every stored token still works at Keycloak afterwards.
func TestReplicasRotateWithoutErrors(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	cfg.Keycloak.Realm = testenv.RotationRealm
	cfg.Tokens.CacheSize = 0
	ids := seedOffline(t, cfg, testenv.RotationRealm, []testenv.User{testenv.Alice, testenv.Bob, testenv.Carol}, 10)
	cfg.SkipMigrations = true
	replicas := []*testenv.Process{testenv.StartProcess(t, cfg), testenv.StartProcess(t, cfg), testenv.StartProcess(t, cfg)}
	service := testenv.ClientToken(t, testenv.RotationRealm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken

	results := make(chan result, 300)
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Go(func() {
			p := replicas[i%3]
			results <- call(http.MethodPost, p.URL+"/v1/access-token?id="+ids[i%10]+refreshAlways, service)
		})
	}
	wg.Wait()
	close(results)
	failures := map[string]int{}
	for r := range results {
		if r.err != nil || r.status != http.StatusOK {
			failures[fmt.Sprintf("%d %s %v", r.status, r.code, r.err)]++
		}
	}
	assert.Empty(t, failures, "300 calls over 3 replicas must all succeed")

	a := testenv.StartService(t, cfg) // in-process, only to open the rows
	for _, id := range ids {
		row, err := a.App.Store.Get(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, store.StatusActive, row.Status)
		tok, err := a.App.Vault.Open(row)
		require.NoError(t, err)
		status, kcErr := testenv.RefreshAtKeycloak(t, testenv.RotationRealm, tok)
		assert.Equal(t, http.StatusOK, status, "row %s: stored token no longer works: %s", id, kcErr)
	}
}

// TestKeycloakOutage stops the real Keycloak under load: every request is answered in
// time with a 502/503 envelope, no stored row changes, no goroutine is left behind, and
// service resumes within 5 s of Keycloak being back.
func TestKeycloakOutage(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	cfg.Tokens.CacheSize = 0 // with refreshAlways, every call goes to Keycloak
	cfg.Auth.Mode = config.AuthModeJWT
	cfg.Keycloak.Timeout = 2 * time.Second
	cfg.Keycloak.Retries = 1
	p := testenv.StartProcess(t, cfg)
	alice := testenv.Login(t, testenv.Alice)
	resp := p.Do(t, http.MethodPost, "/v1/refresh-token", alice.AccessToken, map[string]any{"refresh_token": alice.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	id := resp.Data(t)["persistent_token_id"].(string)
	require.Equal(t, http.StatusOK, call(http.MethodPost, p.URL+"/v1/access-token?id="+id+refreshAlways, alice.AccessToken).status)
	baseline := goroutines(t, p)

	a := testenv.StartService(t, cfg)
	before, err := a.App.Store.Get(context.Background(), id)
	require.NoError(t, err)

	stack(t, "down", "keycloak")
	t.Cleanup(func() { stack(t, "up", "keycloak") })
	bound := cfg.Keycloak.Timeout*time.Duration(cfg.Keycloak.Retries+1) + 2*time.Second
	var mu sync.Mutex
	var outage []result
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Go(func() {
			for i := 0; i < 5; i++ {
				r := call(http.MethodPost, p.URL+"/v1/access-token?id="+id+refreshAlways, alice.AccessToken)
				mu.Lock()
				outage = append(outage, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, r := range outage {
		require.NoError(t, r.err, "the service must answer while Keycloak is down")
		if !assert.Contains(t, []int{http.StatusBadGateway, http.StatusServiceUnavailable}, r.status) {
			for _, line := range strings.Split(p.Logs.String(), "\n") {
				if strings.Contains(line, `"code":"unauthorized"`) {
					t.Log(line)
				}
			}
		}
		assert.Contains(t, []string{"service_unavailable", "keycloak_error"}, r.code)
		assert.Less(t, r.took, bound, "answered within the configured timeout")
	}
	after, err := a.App.Store.Get(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, before.EncryptedToken, after.EncryptedToken, "a failed call changed the stored token")
	assert.Equal(t, store.StatusActive, after.Status, "a transient failure must not mark the row")

	require.Eventually(t, func() bool { return goroutines(t, p) <= baseline+3 }, 10*time.Second, 200*time.Millisecond,
		"goroutines leaked: %d before, %d after", baseline, goroutines(t, p))

	stack(t, "up", "keycloak")
	back := time.Now()
	require.Eventually(t, func() bool {
		return call(http.MethodPost, p.URL+"/v1/access-token?id="+id+refreshAlways, alice.AccessToken).status == http.StatusOK
	}, 5*time.Second, 100*time.Millisecond, "no success within 5 s of Keycloak being back")
	t.Logf("recovered %s after Keycloak was ready; %d outage answers, all within %s", time.Since(back), len(outage), bound)
}

// TestDatabaseOutage stops PostgreSQL under load: 503s and no crash; after a restart the
// service recovers without being restarted, and every write acknowledged before the
// outage is there.
func TestDatabaseOutage(t *testing.T) {
	pg := testenv.ThrowawayPostgres(t)
	cfg := testenv.Config(t)
	cfg.Database.URL = config.Secret(pg.URL)
	cfg.Database.PoolTimeout = 2 * time.Second
	p := testenv.StartProcess(t, cfg)

	var acked []string
	users := []testenv.User{testenv.Alice, testenv.Bob, testenv.Carol}
	for _, u := range users {
		tk := testenv.Login(t, u)
		resp := p.Do(t, http.MethodPost, "/v1/refresh-token", tk.AccessToken, map[string]any{"refresh_token": tk.RefreshToken})
		require.Equal(t, http.StatusOK, resp.Status)
		acked = append(acked, resp.Data(t)["persistent_token_id"].(string))
	}
	service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken

	pg.Stop()
	var outage []result
	for i := 0; i < 20; i++ {
		outage = append(outage, call(http.MethodPost, p.URL+"/v1/access-token?id="+acked[i%3], service))
		outage = append(outage, call(http.MethodGet, p.URL+"/health/ready", ""))
	}
	for _, r := range outage {
		require.NoError(t, r.err, "the service must answer while the database is down")
		assert.Equal(t, http.StatusServiceUnavailable, r.status, r.code)
		assert.Equal(t, "service_unavailable", r.code)
	}
	assert.Equal(t, http.StatusOK, call(http.MethodGet, p.URL+"/health", "").status, "the process is alive")

	pg.Start()
	require.Eventually(t, func() bool { return call(http.MethodGet, p.URL+"/health/ready", "").status == http.StatusOK },
		20*time.Second, 200*time.Millisecond, "no recovery after the database came back")
	for _, id := range acked {
		assert.Equal(t, http.StatusOK, call(http.MethodPost, p.URL+"/v1/access-token?id="+id, service).status, "acknowledged row %s", id)
	}
}

// TestCrashDuringRotation kills the service with SIGKILL while it rotates tokens under
// load, restarts it, and checks every row: it still decrypts, and it either still works
// at Keycloak or is marked invalid with Keycloak's reason — never silently broken. It
// runs on a realm with max reuse 0, where a refresh Keycloak processed but the crash
// kept from being stored loses that row's token, and on one with max reuse 1, where the
// stored token may be presented once more and no row is lost.
func TestCrashDuringRotation(t *testing.T) {
	for _, maxReuse := range []int{0, 1} {
		t.Run(fmt.Sprintf("max reuse %d", maxReuse), func(t *testing.T) {
			cfg := testenv.NewServiceConfig(t)
			realm := testenv.RotationRealm // max reuse 0
			if maxReuse > 0 {
				r := testenv.DefineRealm(t)
				r.Create(testenv.RealmOptions{Rotation: true, RefreshTokenMaxReuse: maxReuse})
				realm = r.Name
			}
			working, marked := crashDuringRotation(t, cfg, realm)
			t.Logf("max reuse %d: after the crash %d rows work, %d marked invalid (a refresh Keycloak processed but the crash kept from being stored)",
				maxReuse, working, marked)
			assert.Positive(t, working)
			if maxReuse > 0 {
				assert.Zero(t, marked, "with max reuse %d no row may be lost", maxReuse)
			}
		})
	}
}

// crashDuringRotation seeds 6 offline rows in realm, kills the service under load,
// restarts it and counts the rows that still work and those marked invalid.
func crashDuringRotation(t *testing.T, cfg config.Config, realm string) (working, marked int) {
	cfg.Keycloak.Realm = realm
	cfg.Tokens.CacheSize = 0
	ids := seedOffline(t, cfg, realm, []testenv.User{testenv.Alice, testenv.Bob, testenv.Carol}, 6)
	p := testenv.StartProcess(t, cfg)
	service := testenv.ClientToken(t, realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				call(http.MethodPost, p.URL+"/v1/access-token?id="+ids[(w+i)%len(ids)]+refreshAlways, service)
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	p.Kill()
	close(stop)
	wg.Wait()
	p.Start()

	a := testenv.StartService(t, cfg)
	for _, id := range ids {
		row, err := a.App.Store.Get(context.Background(), id)
		require.NoError(t, err)
		_, err = a.App.Vault.Open(row)
		require.NoError(t, err, "row %s no longer decrypts", id)
		r := call(http.MethodPost, p.URL+"/v1/access-token?id="+id+refreshAlways, service)
		row, err = a.App.Store.Get(context.Background(), id)
		require.NoError(t, err)
		switch {
		case r.status == http.StatusOK:
			working++
			assert.Equal(t, store.StatusActive, row.Status)
		default:
			marked++
			assert.Equal(t, "keycloak_error", r.code, "row %s fails for another reason than Keycloak's refusal", id)
			assert.Equal(t, store.StatusInvalid, row.Status, "row %s fails but is not marked", id)
			assert.Contains(t, row.LastError, "invalid_grant")
		}
	}
	return working, marked
}
