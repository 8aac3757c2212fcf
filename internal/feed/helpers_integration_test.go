package feed_test

import (
	"context"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/feed"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// replicaVia is a replica (testenv.Replica) that reaches the database through fwd.
func replicaVia(t *testing.T, dbURL, name string, fwd *testenv.Forwarder) *store.Store {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.Host = fwd.Addr
	return testenv.Replica(t, u.String(), name)
}

// recorder is the Cache a follower applies evictions to, as a test reads them.
type recorder struct {
	mu      sync.Mutex
	evicted map[string]int
	order   []string
	flushes int
}

func newRecorder() *recorder { return &recorder{evicted: map[string]int{}} }

func (r *recorder) Evict(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evicted[id]++
	r.order = append(r.order, id)
}

func (r *recorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes++
}

func (r *recorder) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evicted[id] > 0
}

func (r *recorder) times(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evicted[id]
}

func (r *recorder) flushed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushes
}

// run runs f until the test ends (or until the returned stop is called).
func run(t *testing.T, f *feed.Follower, c feed.Cache, sources ...feed.Source) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx, c, sources...) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// connect opens a connection to db for the test's own statements.
func connect(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	pg, err := pgx.Connect(t.Context(), db)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Close(context.Background()) })
	return pg
}

// query runs one statement on pg and returns the first column of its one row.
func query[T any](t *testing.T, pg *pgx.Conn, q string, args ...any) T {
	t.Helper()
	var v T
	require.NoError(t, pg.QueryRow(t.Context(), q, args...).Scan(&v))
	return v
}

// insertRows adds n OFFLINE vault rows (of n users) and returns their ids.
func insertRows(t *testing.T, pg *pgx.Conn, n int) []string {
	t.Helper()
	rows, err := pg.Query(t.Context(), `INSERT INTO auth_vault (id, user_id, token_type, encrypted_token, iv, token_hash, session_state_id)
		SELECT gen_random_uuid(), gen_random_uuid(), 'OFFLINE', 'aa', 'bb', 'h' || g, 'sid-' || g FROM generate_series(1, $1) g
		RETURNING id::text`, n)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return ids
}

// deleteRow deletes vault row id in a transaction of its own.
func deleteRow(t *testing.T, pg *pgx.Conn, id string) {
	t.Helper()
	tag, err := pg.Exec(t.Context(), `DELETE FROM auth_vault WHERE id = $1`, id)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
}

// terminateListener ends the backend of the named replica that LISTENs (its last
// query is a LISTEN, or the probe that keeps it alive) and returns how many it ended.
func terminateListener(t *testing.T, pg *pgx.Conn, name string) int {
	t.Helper()
	return query[int](t, pg, `SELECT count(*)::int FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1
		  AND (query LIKE 'LISTEN %' OR query = 'SELECT 1')) s`, name)
}
