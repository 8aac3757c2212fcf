package keepalive_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/keepalive"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// cluster is one database and one Keycloak realm that several replicas (each with its
// own pool, vault and Keycloak client) share, with every refresh grant sent to
// Keycloak recorded.
type cluster struct {
	t     *testing.T
	cfg   config.Config
	first replica
	calls *callLog
	ids   []string
}

type replica struct {
	st    *store.Store
	vault *vault.Service
	kc    *keycloak.Client
}

// callLog records when each refresh grant left for Keycloak.
type callLog struct {
	mu    sync.Mutex
	times []time.Time
	// onCall, when set, runs before each recorded call is sent.
	onCall func(n int)
}

func (c *callLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/token") && r.GetBody != nil {
			body, err := r.GetBody()
			if err != nil {
				return nil, err
			}
			form, _ := io.ReadAll(body)
			if strings.Contains(string(form), "grant_type=refresh_token") {
				c.mu.Lock()
				c.times = append(c.times, time.Now())
				n, f := len(c.times), c.onCall
				c.mu.Unlock()
				if f != nil {
					f(n)
				}
			}
		}
		return rt.RoundTrip(r)
	})
}

func (c *callLog) snapshot() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.times...)
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// newCluster creates a realm and a database holding n offline tokens of alice (each
// of its own offline session), all unused for two days.
func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{})
	c := &cluster{t: t, cfg: realm.ServiceConfig(t), calls: &callLog{}}
	c.first = c.replica()
	m, err := c.first.st.NewMigrator()
	require.NoError(t, err)
	_, err = m.Up(context.Background())
	require.NoError(t, err)
	require.NoError(t, m.Close())
	ctx := context.Background()
	for range n {
		tk := testenv.PasswordLogin(t, realm.Name, testenv.ServiceClient, testenv.ServiceClientSecret, testenv.Alice, "openid offline_access")
		cl := testenv.Claims(t, tk.AccessToken)
		row, err := c.first.vault.StoreOffline(ctx, cl["sub"].(string), cl["sid"].(string), tk.RefreshToken, nil)
		require.NoError(t, err)
		c.ids = append(c.ids, row.ID)
	}
	_, err = c.first.st.Pool().Exec(ctx, `UPDATE auth_vault SET created_at = now() - interval '2 days'`)
	require.NoError(t, err)
	return c
}

// replica opens another pool, vault and Keycloak client on the cluster.
func (c *cluster) replica() replica {
	t := c.t
	st, err := store.Open(context.Background(), store.Options{URL: c.cfg.Database.URL.Reveal(), MaxConns: 8}, testenv.DiscardLogger())
	require.NoError(t, err)
	t.Cleanup(st.Close)
	ring, err := app.NewRing(c.cfg.Keys)
	require.NoError(t, err)
	k := c.cfg.Keycloak
	kc := keycloak.New(keycloak.Options{IssuerURL: k.IssuerURL(), ConnectURL: k.ConnectURL(), BaseURL: k.ConnectBase(),
		Realm: k.Realm, ClientID: k.ClientID, ClientSecret: k.ClientSecret.Reveal(), Timeout: 20 * time.Second,
		WrapTransport: c.calls.wrap}, testenv.DiscardLogger())
	// Discovery now, so that the first refresh is not slower than the others.
	_, err = kc.OAuth2(context.Background())
	require.NoError(t, err)
	v := vault.New(st, ring, kc, vault.Options{Issuer: k.IssuerURL(), ClientID: k.ClientID, Log: testenv.DiscardLogger()})
	return replica{st: st, vault: v, kc: kc}
}

func (r replica) job(opt keepalive.Options) *keepalive.Job {
	opt.IdleThreshold, opt.Interval, opt.Log = 24*time.Hour, time.Hour, testenv.DiscardLogger()
	return keepalive.New(r.st, r.vault, r.kc, opt)
}

// refreshedRows counts the cluster's rows used in the last minute.
func (c *cluster) refreshedRows() int {
	var n int
	require.NoError(c.t, c.first.st.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM auth_vault WHERE last_used_at > now() - interval '1 minute' AND status = 'active'`).Scan(&n))
	return n
}

// maxInWindow is the most calls that started within any window w.
func maxInWindow(times []time.Time, w time.Duration) int {
	best := 0
	for i, t0 := range times {
		n := 0
		for _, t := range times[i:] {
			if t.Sub(t0) < w {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

// TestReplicasShareOnePassWithinTheRate: two replicas with two workers each run a
// pass at the same time. Each idle row is refreshed exactly once (one Keycloak call
// per row, all rows refreshed, the work split between them), and the calls of both
// together keep to the rate.
func TestReplicasShareOnePassWithinTheRate(t *testing.T) {
	t.Parallel()
	const rows, rate = 24, 8
	c := newCluster(t, rows)
	second := c.replica()
	opt := keepalive.Options{Rate: rate, Workers: 2, Batch: 2}
	jobs := []*keepalive.Job{c.first.job(opt), second.job(opt)}

	reports := make([]keepalive.Report, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			var err error
			reports[i], err = j.RunOnce(context.Background())
			assert.NoError(t, err)
		})
	}
	wg.Wait()

	calls := c.calls.snapshot()
	assert.Len(t, calls, rows, "one refresh grant per row")
	assert.Equal(t, rows, reports[0].Refreshed+reports[1].Refreshed)
	assert.Positive(t, reports[0].Refreshed, "both replicas took part")
	assert.Positive(t, reports[1].Refreshed, "both replicas took part")
	assert.Zero(t, reports[0].Failed+reports[1].Failed)
	assert.Equal(t, rows, c.refreshedRows(), "every row was refreshed")
	var claimed time.Time
	require.NoError(t, c.first.st.Pool().QueryRow(context.Background(),
		`SELECT max(claimed_until) FROM auth_vault`).Scan(&claimed))
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), claimed, time.Minute,
		"a refreshed row's claim is left to lapse, long before the row is idle again")
	require.NotEmpty(t, calls)
	span := calls[len(calls)-1].Sub(calls[0])
	peak := maxInWindow(calls, time.Second)
	t.Logf("%d calls over %s, at most %d in any second (rate %d/s); replicas: %d and %d rows",
		len(calls), span.Round(time.Millisecond), peak, rate, reports[0].Refreshed, reports[1].Refreshed)
	assert.GreaterOrEqual(t, span, time.Duration(rows-1)*time.Second/rate-50*time.Millisecond, "paced at the rate")
	assert.LessOrEqual(t, peak, rate+1, "never above the rate (one call of leeway for the window's edge)")

	t.Run("a second pass finds nothing idle", func(t *testing.T) {
		rep, err := jobs[1].RunOnce(context.Background())
		require.NoError(t, err)
		assert.Zero(t, rep.Idle)
		assert.Len(t, c.calls.snapshot(), rows)
	})
}

// TestStoppedPassResumes: a pass stopped midway finishes its refresh in flight, gives
// back the rest of its claims, and another replica's pass does the rest: every row is
// refreshed once.
func TestStoppedPassResumes(t *testing.T) {
	t.Parallel()
	const rows = 12
	c := newCluster(t, rows)
	ctx, stop := context.WithCancel(context.Background())
	release := make(chan struct{})
	c.calls.onCall = func(n int) {
		if n == 3 {
			stop()    // stopped while the third refresh is on its way to Keycloak
			<-release // … which is held until the job has been told to stop
		}
	}
	done := make(chan keepalive.Report, 1)
	go func() {
		rep, err := c.first.job(keepalive.Options{Rate: 50, Workers: 1, Batch: 5}).RunOnce(ctx)
		assert.ErrorIs(t, err, context.Canceled)
		done <- rep
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("the pass returned with a refresh in flight")
	default:
	}
	close(release)
	first := <-done
	assert.Equal(t, 3, first.Refreshed, "the refresh in flight was finished and stored")
	assert.Equal(t, 3, c.refreshedRows())

	c.calls.onCall = nil
	second := c.replica()
	rep, err := second.job(keepalive.Options{Rate: 50, Workers: 2, Batch: 5}).RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, rows-3, rep.Refreshed, "the stopped pass's claims were given back at once")
	assert.Len(t, c.calls.snapshot(), rows, "no row refreshed twice")
	assert.Equal(t, rows, c.refreshedRows())
}

// TestCrashedClaimsLapse: rows a worker claimed and never refreshed (it crashed) are
// skipped while the claim holds and refreshed once it lapses.
func TestCrashedClaimsLapse(t *testing.T) {
	t.Parallel()
	const rows = 6
	c := newCluster(t, rows)
	ctx := context.Background()
	now := time.Now()
	dead, err := c.first.vault.ClaimIdle(ctx, now.Add(-24*time.Hour), now, now.Add(2*time.Second), 2)
	require.NoError(t, err)
	require.Len(t, dead, 2)

	job := c.replica().job(keepalive.Options{Rate: 50, Workers: 2})
	rep, err := job.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, rows-2, rep.Refreshed, "claimed rows are left to their claimant")

	time.Sleep(time.Until(now.Add(2 * time.Second)))
	rep, err = job.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Refreshed, "lapsed claims are taken over")
	assert.Len(t, c.calls.snapshot(), rows)
	assert.Equal(t, rows, c.refreshedRows())
}

// TestCleanUpShared: replicas deleting expired invalid rows at the same time delete
// each once between them, and leave the rest.
func TestCleanUpShared(t *testing.T) {
	testenv.Integration(t)
	t.Parallel()
	st := testenv.MigratedStore(t, 4)
	ctx := context.Background()
	_, err := st.Pool().Exec(ctx, `INSERT INTO auth_vault (id, user_id, token_type, encrypted_token, iv, token_hash, session_state_id,
		status, last_error, created_at, updated_at)
		SELECT gen_random_uuid(), gen_random_uuid(), 'OFFLINE', '00', '00', 'h', 's', 'invalid', 'invalid_grant: gone',
		       now() - interval '30 days', now() - make_interval(days => CASE WHEN i <= 450 THEN 10 ELSE 1 END)
		FROM generate_series(1, 500) i`)
	require.NoError(t, err)
	v := vault.New(st, nil, nil, vault.Options{})
	opt := keepalive.Options{IdleThreshold: 24 * time.Hour, Retention: 7 * 24 * time.Hour, Log: testenv.DiscardLogger()}
	var mu sync.Mutex
	deleted := 0
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			rep, err := keepalive.New(st, v, nil, opt).RunOnce(ctx)
			assert.NoError(t, err)
			mu.Lock()
			deleted += rep.Deleted
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, 450, deleted)
	var left int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM auth_vault`).Scan(&left))
	assert.Equal(t, 50, left, "rows marked within the retention period stay")
}
