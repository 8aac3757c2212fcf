package ended_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/ended"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// run runs r's Run until the test ends.
func run(t *testing.T, r *ended.Registry) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestRecordsReachAnotherReplica: an end is applied at once where it is announced,
// committed when the call returns, and found by another replica's read of the feed,
// with every rule; the record's expiry is the retention.
func TestRecordsReachAnotherReplica(t *testing.T) {
	ctx := t.Context()
	db := testenv.MigratedDatabase(t)
	w := ended.New(testenv.Replica(t, db, "w"), nil, ended.Options{})
	f := ended.New(testenv.Replica(t, db, "f"), nil, ended.Options{})
	assert.False(t, f.Loaded(), "nothing read yet")
	require.NoError(t, f.CatchUp(ctx))
	assert.True(t, f.Loaded())
	assert.False(t, f.Current(), "no follower (package feed) reads the table for it")

	now := time.Now()
	require.NoError(t, w.EndSession(ctx, "s-whole", ""))
	require.NoError(t, w.EndSession(ctx, "s-part", "app"))
	require.NoError(t, w.EndUserSessionsExcept(ctx, "u1", now.Add(time.Second), []string{"s-live"}))
	assert.True(t, w.Ended("s-whole", "any", "u9", now, false), "applied where announced, at once")
	assert.False(t, f.Ended("s-whole", "any", "u9", now, false), "not read yet")

	require.NoError(t, f.CatchUp(ctx))
	for _, r := range []*ended.Registry{w, f} {
		assert.True(t, r.Ended("s-whole", "any", "u9", now, false))
		assert.True(t, r.Ended("s-part", "app", "u9", now, false))
		assert.False(t, r.Ended("s-part", "other", "u9", now, false), "only app's part of s-part ended")
		assert.True(t, r.Ended("s-gone", "app", "u1", now, false), "u1's sessions other than s-live ended")
		assert.False(t, r.Ended("s-live", "app", "u1", now, false))
		assert.False(t, r.Ended("s-gone", "app", "u1", now, true), "offline sessions are exempt from user rules")
		assert.False(t, r.Ended("s-gone", "app", "u1", now.Add(time.Second), false), "issued in the rule's second")
	}
	sessions, users := f.Size()
	assert.Equal(t, [2]int{2, 1}, [2]int{sessions, users})

	rows := records(t, db)
	require.Len(t, rows, 3)
	assert.Equal(t, []string{"s-whole", "s-part", ""}, []string{rows[0].Session, rows[1].Session, rows[2].Session})
	assert.Equal(t, "app", rows[1].Client)
	assert.Equal(t, "u1", rows[2].User)
	assert.Equal(t, []string{"s-live"}, rows[2].Live)
	for _, row := range rows {
		// Realm unknown: the fallback (24 h) plus the skew (1 min), from the end (from
		// the rule's time for a user rule).
		assert.InDelta(t, (24*time.Hour + time.Minute).Seconds(), row.Kept.Seconds(), 0.01, row)
	}
}

// record is a row of ended_sessions as a test reads it; Kept is expires_at less the
// time its tokens were issued before (ended_at, or at for a user rule).
type record struct {
	Session, Client, User string
	Live                  []string
	Kept                  time.Duration
}

func records(t *testing.T, db string) []record {
	t.Helper()
	ctx := t.Context()
	pg, err := pgx.Connect(ctx, db)
	require.NoError(t, err)
	defer pg.Close(context.Background())
	rows, err := pg.Query(ctx, `SELECT session_id, client_id, user_id, coalesce(live, '{}'),
		extract(epoch FROM expires_at - coalesce(at, ended_at))::float8 FROM ended_sessions ORDER BY seq`)
	require.NoError(t, err)
	var out []record
	for rows.Next() {
		var r record
		var secs float64
		require.NoError(t, rows.Scan(&r.Session, &r.Client, &r.User, &r.Live, &secs))
		r.Kept = time.Duration(secs * float64(time.Second))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// sql runs one statement on db and returns the first column of its one row.
func sql[T any](t *testing.T, db, q string, args ...any) T {
	t.Helper()
	ctx := t.Context()
	pg, err := pgx.Connect(ctx, db)
	require.NoError(t, err)
	defer pg.Close(context.Background())
	var v T
	require.NoError(t, pg.QueryRow(ctx, q, args...).Scan(&v))
	return v
}

// TestPrune: records expire by time alone; any replica deletes expired ones from the
// table and from memory, and a replica started later does not load them.
func TestPrune(t *testing.T) {
	ctx := t.Context()
	db := testenv.MigratedDatabase(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	w := ended.New(testenv.Replica(t, db, "w"), nil, ended.Options{Now: now})
	require.NoError(t, w.CatchUp(ctx))
	require.NoError(t, w.EndSession(ctx, "old", ""))
	clock.Add(int64(12 * time.Hour))
	require.NoError(t, w.EndSession(ctx, "young", ""))
	clock.Add(int64(12*time.Hour + 2*time.Minute)) // "old" kept 24 h 1 min: expired; "young" not

	late := ended.New(testenv.Replica(t, db, "late"), nil, ended.Options{Now: now})
	require.NoError(t, late.CatchUp(ctx))
	sessions, _ := late.Size()
	assert.Equal(t, 1, sessions, "an expired record is not loaded")
	assert.False(t, late.Ended("old", "", "", now(), false))
	assert.True(t, late.Ended("young", "", "", now(), false))

	assert.Equal(t, 2, sql[int](t, db, `SELECT count(*)::int FROM ended_sessions`))
	p := ended.New(testenv.Replica(t, db, "p"), nil, ended.Options{Now: now, PruneEvery: 20 * time.Millisecond})
	run(t, p)
	assert.GreaterOrEqual(t, testenv.Within(5*time.Second, func() bool {
		return sql[int](t, db, `SELECT count(*)::int FROM ended_sessions`) == 1
	}), time.Duration(0), "the expired record is deleted")
	assert.Equal(t, "young", sql[string](t, db, `SELECT session_id FROM ended_sessions`))
	assert.False(t, w.Ended("old", "", "", now(), false), "expired in memory too")
}

// TestLoadAtStart: a replica started after many ends loads them all before it reports
// Loaded, and the queries it and the pruning run are index scans.
func TestLoadAtStart(t *testing.T) {
	const n = 100_000
	ctx := t.Context()
	db := testenv.MigratedDatabase(t)
	w := ended.New(testenv.Replica(t, db, "w"), nil, ended.Options{})
	require.NoError(t, w.EndSession(ctx, "first", ""))
	start := time.Now()
	require.Equal(t, n, sql[int](t, db, `WITH i AS (
		INSERT INTO ended_sessions (session_id, expires_at)
		SELECT 'cDzdIsR-noeHu9bS' || lpad(g::text, 8, '0'), now() + interval '6 minutes' FROM generate_series(1, $1) g
		RETURNING 1) SELECT count(*)::int FROM i`, n))
	require.NoError(t, w.EndUserSessionsExcept(ctx, "u-last", time.Now(), nil))
	t.Logf("FIGURES %d records inserted in %s", n, time.Since(start))
	pg, err := pgx.Connect(ctx, db)
	require.NoError(t, err)
	defer pg.Close(context.Background())
	_, err = pg.Exec(ctx, `ANALYZE ended_sessions`)
	require.NoError(t, err)

	late := ended.New(testenv.Replica(t, db, "late"), nil, ended.Options{})
	start = time.Now()
	require.NoError(t, late.CatchUp(ctx))
	took := time.Since(start)
	sessions, users := late.Size()
	assert.Equal(t, [2]int{n + 1, 1}, [2]int{sessions, users})
	assert.True(t, late.Ended("first", "app", "u", time.Now(), false), "the first end is still known after %d more", n)
	t.Logf("FIGURES a replica loaded %d records in %s (%.1f µs per record)", n+2, took, float64(took.Microseconds())/float64(n+2))

	for name, q := range map[string]string{
		"follow": `EXPLAIN SELECT seq FROM ended_sessions WHERE seq > 99990 AND expires_at > now() ORDER BY seq LIMIT 5000`,
		"prune":  `EXPLAIN DELETE FROM ended_sessions WHERE seq IN (SELECT seq FROM ended_sessions WHERE expires_at <= now() - interval '1 hour' ORDER BY expires_at LIMIT 10000)`,
	} {
		rows, err := pg.Query(ctx, q)
		require.NoError(t, err)
		plan := ""
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan += line + "\n"
		}
		require.NoError(t, rows.Err())
		assert.Contains(t, plan, "Index", "%s: %s", name, plan)
		assert.NotContains(t, plan, "Seq Scan", "%s: %s", name, plan)
		t.Logf("plan of %s:\n%s", name, plan)
	}
}

// TestRetentionFromTheRealm: records are kept for the realm's access-token lifespan as
// Keycloak reports it, plus the skew; the 24 h fallback until it has been read.
func TestRetentionFromTheRealm(t *testing.T) {
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{AccessTokenLifespan: 7 * time.Minute})
	cfg := testenv.Config(t)
	kc := keycloak.New(keycloak.Options{IssuerURL: cfg.Keycloak.BaseURL + "/realms/" + realm.Name, BaseURL: cfg.Keycloak.BaseURL,
		Realm: realm.Name, ClientID: cfg.Keycloak.ClientID, ClientSecret: cfg.Keycloak.ClientSecret.Reveal(),
		Timeout: 10 * time.Second}, testenv.DiscardLogger())
	db := testenv.MigratedDatabase(t)
	r := ended.New(testenv.Replica(t, db, "w"), keycloak.NewAdmin(kc), ended.Options{Clients: []string{cfg.Keycloak.ClientID}})
	assert.Equal(t, 24*time.Hour+time.Minute, r.Retention(), "before the realm is read")
	run(t, r)
	read := testenv.Within(15*time.Second, func() bool { return r.Retention() == 8*time.Minute })
	t.Logf("realm read after %s", read)
	require.GreaterOrEqual(t, read, time.Duration(0),
		"retention %s, want the realm's 7 min plus 1 min of skew", r.Retention())
	require.NoError(t, r.EndSession(t.Context(), "s1", ""))
	rows := records(t, db)
	require.Len(t, rows, 1)
	assert.InDelta(t, (8 * time.Minute).Seconds(), rows[0].Kept.Seconds(), 0.01)
}
