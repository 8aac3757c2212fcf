package store_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// seedVaultRows inserts n rows of type typ and status status, sealed under keyID ("":
// legacy), created and last used at `at`, and returns their ids.
func seedVaultRows(t *testing.T, st *store.Store, n int, typ store.TokenType, status store.Status, keyID string, at time.Time) []string {
	t.Helper()
	var mac, key any
	if keyID != "" {
		mac, key = "m", keyID
	}
	ids := make([]string, n)
	rows := make([][]any, n)
	for i := range n {
		ids[i] = uuid.NewString()
		rows[i] = []any{ids[i], uuid.NewString(), string(typ), "00", "00", "h", mac, key, "s-" + ids[i], at, at, string(status)}
	}
	_, err := st.Pool().CopyFrom(context.Background(), pgx.Identifier{"auth_vault"},
		[]string{"id", "user_id", "token_type", "encrypted_token", "iv", "token_hash", "mac", "key_id", "session_state_id",
			"created_at", "updated_at", "status"}, pgx.CopyFromRows(rows))
	require.NoError(t, err)
	return ids
}

func migratedStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	testenv.Integration(t)
	url := testenv.Database(t)
	st := openStore(t, url)
	migrateUp(t, st)
	return st, url
}

// TestStatementsWalkTheirIndex: with sequential scans, bitmap scans and sorts priced
// out, every periodic, start-up and background statement still finds a plan without a
// sequential scan of auth_vault, on the index it is meant to walk, and without a sort:
// the index gives the order the statement reads in. (A priced-out node is still chosen
// when nothing else can answer, which is what this test would catch.)
func TestStatementsWalkTheirIndex(t *testing.T) {
	st, _ := migratedStore(t)
	old := time.Now().Add(-30 * 24 * time.Hour)
	seedVaultRows(t, st, 20, store.Offline, store.StatusActive, "k1", old)
	seedVaultRows(t, st, 20, store.Refresh, store.StatusInvalid, "k2", old)
	seedVaultRows(t, st, 20, store.Offline, store.StatusActive, "", old)
	ctx := context.Background()
	_, err := st.Pool().Exec(ctx, "ANALYZE auth_vault")
	require.NoError(t, err)

	for _, s := range store.Statements(time.Now(), "k1") {
		t.Run(s.Name, func(t *testing.T) {
			plan := explain(t, st, s)
			assert.NotContains(t, plan, "Seq Scan on auth_vault", plan)
			if s.Index != "" {
				assert.Contains(t, plan, s.Index, plan)
				assert.NotRegexp(t, `(?m)^\s*(->\s+)?(Incremental )?Sort\b`, plan, "read in index order: %s", plan)
			}
		})
	}
}

func explain(t *testing.T, st *store.Store, s store.Statement) string {
	t.Helper()
	var lines []string
	err := pgx.BeginFunc(context.Background(), st.Pool(), func(tx pgx.Tx) error {
		for _, off := range []string{"enable_seqscan", "enable_bitmapscan", "enable_sort"} {
			if _, err := tx.Exec(context.Background(), "SET LOCAL "+off+" = off"); err != nil {
				return err
			}
		}
		rows, err := tx.Query(context.Background(), "EXPLAIN "+s.SQL, s.Args...)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	require.NoError(t, err)
	return strings.Join(lines, "\n")
}

// TestClaimIdle: concurrent claimers get disjoint rows, the longest idle first; a
// claimed row stays out of reach until its claim lapses or is given up; rows used
// since, invalid or of the other type are never claimed.
func TestClaimIdle(t *testing.T) {
	st, url := migratedStore(t)
	other := openStore(t, url)
	ctx := context.Background()
	now := time.Now()
	oldest := seedVaultRows(t, st, 5, store.Offline, store.StatusActive, "k", now.Add(-72*time.Hour))
	older := seedVaultRows(t, st, 35, store.Offline, store.StatusActive, "k", now.Add(-48*time.Hour))
	seedVaultRows(t, st, 5, store.Offline, store.StatusActive, "k", now.Add(-time.Hour)) // used recently
	seedVaultRows(t, st, 5, store.Offline, store.StatusInvalid, "k", now.Add(-72*time.Hour))
	seedVaultRows(t, st, 5, store.Refresh, store.StatusActive, "k", now.Add(-72*time.Hour))
	idleSince, until := now.Add(-24*time.Hour), now.Add(time.Minute)

	first, err := st.ClaimIdle(ctx, idleSince, now, until, 5)
	require.NoError(t, err)
	assert.ElementsMatch(t, oldest, ids(first), "the longest idle first")

	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for _, s := range []*store.Store{st, other, st, other} {
		wg.Go(func() {
			for {
				rows, err := s.ClaimIdle(ctx, idleSince, now, until, 3)
				if !assert.NoError(t, err) || len(rows) == 0 {
					return
				}
				mu.Lock()
				got = append(got, ids(rows)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.ElementsMatch(t, older, got, "every idle row claimed once")

	none, err := st.ClaimIdle(ctx, idleSince, now.Add(30*time.Second), until, 100)
	require.NoError(t, err)
	assert.Empty(t, none, "claims hold until they lapse")
	lapsed, err := other.ClaimIdle(ctx, idleSince, until, until.Add(time.Minute), 100)
	require.NoError(t, err)
	assert.Len(t, lapsed, 40, "lapsed claims are taken again")

	require.NoError(t, st.SetClaims(ctx, oldest, nil))
	back, err := st.ClaimIdle(ctx, idleSince, now, until, 100)
	require.NoError(t, err)
	assert.ElementsMatch(t, oldest, ids(back), "given-up claims are free at once")

	var cur store.Cursor
	var paged []string
	for {
		rows, next, err := st.IdlePage(ctx, idleSince, cur, 7)
		require.NoError(t, err)
		paged = append(paged, ids(rows)...)
		if len(rows) < 7 {
			break
		}
		cur = next
	}
	assert.ElementsMatch(t, append(append([]string{}, oldest...), older...), paged, "a dry run pages through every idle row, claimed or not")
}

func ids(rows []store.Meta) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// cleanup is why the clean-up deletes rows.
var cleanup = store.Why{Cause: store.CauseCleanup}

// TestDeleteInvalid: only rows marked invalid before the cut-off go, the oldest mark
// first, and concurrent deleters share them without overlap; each deleted row's event
// is appended.
func TestDeleteInvalid(t *testing.T) {
	st, url := migratedStore(t)
	other := openStore(t, url)
	ctx := context.Background()
	now := time.Now()
	oldest := seedVaultRows(t, st, 3, store.Offline, store.StatusInvalid, "k", now.Add(-30*24*time.Hour))
	expired := seedVaultRows(t, st, 97, store.Refresh, store.StatusInvalid, "k", now.Add(-10*24*time.Hour))
	recent := seedVaultRows(t, st, 5, store.Offline, store.StatusInvalid, "k", now.Add(-time.Hour))
	active := seedVaultRows(t, st, 5, store.Offline, store.StatusActive, "k", now.Add(-30*24*time.Hour))
	cut := now.Add(-7 * 24 * time.Hour)

	first, err := st.DeleteInvalid(ctx, cut, 3, cleanup)
	require.NoError(t, err)
	assert.ElementsMatch(t, oldest, ids(first))

	var mu sync.Mutex
	var gone []string
	var wg sync.WaitGroup
	for _, s := range []*store.Store{st, other, st, other} {
		wg.Go(func() {
			for {
				rows, err := s.DeleteInvalid(ctx, cut, 4, cleanup)
				if !assert.NoError(t, err) || len(rows) == 0 {
					return
				}
				mu.Lock()
				gone = append(gone, ids(rows)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.ElementsMatch(t, expired, gone)
	var events int
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM events WHERE cause = 'cleanup'`).Scan(&events))
	assert.Equal(t, 100, events, "each deleted row's event, appended with its delete")
	for _, id := range append(recent, active...) {
		_, err := st.Get(ctx, id)
		assert.NoError(t, err, "kept: %s", id)
	}
}

// TestLease: one holder at a time; the holder renews; an expired or released lease
// goes to the next to ask.
func TestLease(t *testing.T) {
	st, url := migratedStore(t)
	other := openStore(t, url)
	ctx := context.Background()
	take := func(s *store.Store, holder string, ttl time.Duration) bool {
		ok, err := s.TryLease(ctx, "gauge", holder, ttl)
		require.NoError(t, err)
		return ok
	}
	assert.True(t, take(st, "a", 300*time.Millisecond))
	assert.False(t, take(other, "b", time.Minute), "held by a")
	assert.True(t, take(st, "a", 300*time.Millisecond), "a renews")
	assert.True(t, take(other, "c", time.Minute) == false)
	time.Sleep(400 * time.Millisecond)
	assert.True(t, take(other, "b", time.Minute), "a's lease expired")
	assert.False(t, take(st, "a", time.Minute))
	require.NoError(t, st.ReleaseLease(ctx, "gauge", "a"), "releasing a lease one does not hold changes nothing")
	assert.False(t, take(st, "a", time.Minute))
	require.NoError(t, other.ReleaseLease(ctx, "gauge", "b"))
	assert.True(t, take(st, "a", time.Minute), "released: the next to ask takes it")
}

// TestTakeSlot: slots taken at once from two pools are handed out interval apart, in
// order, and idle time builds up no credit.
func TestTakeSlot(t *testing.T) {
	st, url := migratedStore(t)
	other := openStore(t, url)
	ctx := context.Background()
	const interval = 200 * time.Millisecond
	// A slot's start, as this process sees it: when the answer came, plus the wait.
	var starts []time.Time
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 6 {
		s := []*store.Store{st, other}[i%2]
		wg.Go(func() {
			w, err := s.TakeSlot(ctx, "test", interval)
			at := time.Now()
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			starts = append(starts, at.Add(w))
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	for i := 1; i < len(starts); i++ {
		assert.InDelta(t, float64(interval), float64(starts[i].Sub(starts[i-1])), float64(60*time.Millisecond),
			"slot %d starts %s after slot %d", i, starts[i].Sub(starts[i-1]), i-1)
	}
	time.Sleep(time.Until(starts[len(starts)-1]) + interval) // every slot taken is past, and some more time
	w, err := st.TakeSlot(ctx, "test", interval)
	require.NoError(t, err)
	assert.Zero(t, w, "a free rate serves at once")
	w, err = other.TakeSlot(ctx, "test", interval)
	require.NoError(t, err)
	assert.InDelta(t, float64(interval), float64(w), float64(60*time.Millisecond), "but only once: no credit from idle time")
}

// TestRowsByTypeStatus: a small table is counted; a large one is estimated from
// PostgreSQL's statistics, close to the real figures.
func TestRowsByTypeStatus(t *testing.T) {
	st, _ := migratedStore(t)
	ctx := context.Background()
	seedVaultRows(t, st, 3000, store.Refresh, store.StatusActive, "k", time.Now())
	seedVaultRows(t, st, 900, store.Offline, store.StatusActive, "k", time.Now())
	seedVaultRows(t, st, 100, store.Offline, store.StatusInvalid, "k", time.Now())
	want := map[string]int{"REFRESH/active": 3000, "OFFLINE/active": 900, "OFFLINE/invalid": 100}

	exact, isExact, err := st.RowsByTypeStatus(ctx, store.ExactBelowPages)
	require.NoError(t, err)
	assert.True(t, isExact)
	assert.Equal(t, want, byKey(exact))

	_, _, err = st.RowsByTypeStatus(ctx, 0)
	if err == nil {
		t.Log("autovacuum analysed the table already")
	} else {
		assert.ErrorIs(t, err, store.ErrNoEstimate, "never analysed, too large to count")
	}
	_, err = st.Pool().Exec(ctx, "ANALYZE auth_vault")
	require.NoError(t, err)
	est, isExact, err := st.RowsByTypeStatus(ctx, 0)
	require.NoError(t, err)
	assert.False(t, isExact)
	got := byKey(est)
	for k, n := range want {
		assert.InDelta(t, n, got[k], float64(n)*0.1+5, "%s: %d estimated, %d stored", k, got[k], n)
	}
}

func byKey(counts []store.TypeStatusCount) map[string]int {
	out := map[string]int{}
	for _, c := range counts {
		if c.Count > 0 {
			out[c.Type+"/"+c.Status] = c.Count
		}
	}
	return out
}

// TestKeysInUse: the key ids that seal rows, legacy as "", each counted (or counted up
// to a cap).
func TestKeysInUse(t *testing.T) {
	st, _ := migratedStore(t)
	ctx := context.Background()
	keys, err := st.KeysInUse(ctx)
	require.NoError(t, err)
	assert.Empty(t, keys)
	for i, k := range []string{"k2", "k1", "", "k3"} {
		seedVaultRows(t, st, 3+i, store.Offline, store.StatusActive, k, time.Now())
	}
	keys, err = st.KeysInUse(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"k1", "k2", "k3", ""}, keys)
	for k, want := range map[string]int{"k2": 3, "k1": 4, "": 5, "k3": 6, "k9": 0} {
		n, err := st.CountKey(ctx, k, 0)
		require.NoError(t, err)
		assert.Equal(t, want, n, fmt.Sprintf("key %q", k))
	}
	n, err := st.CountKey(ctx, "", 2)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "capped")
}

// TestJobsThroughPgBouncer: the jobs' statements hold no session state, so they work
// through a pooler in transaction mode (exec mode, no prepared statements), where
// consecutive statements of one pooled connection may reach different servers.
func TestJobsThroughPgBouncer(t *testing.T) {
	direct, url := migratedStore(t)
	st, err := store.Open(context.Background(), store.Options{URL: testenv.ThroughPgBouncer(t, url), MaxConns: 4,
		TransactionPooling: true}, testenv.DiscardLogger())
	require.NoError(t, err)
	t.Cleanup(st.Close)
	ctx := context.Background()
	now := time.Now()
	idle := seedVaultRows(t, direct, 5, store.Offline, store.StatusActive, "k1", now.Add(-48*time.Hour))
	seedVaultRows(t, direct, 3, store.Refresh, store.StatusInvalid, "", now.Add(-10*24*time.Hour))

	ok, err := st.TryLease(ctx, "gauge", "a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	_, err = st.TakeSlot(ctx, "rate", 10*time.Millisecond)
	require.NoError(t, err)
	claimed, err := st.ClaimIdle(ctx, now.Add(-24*time.Hour), now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	assert.ElementsMatch(t, idle, ids(claimed))
	require.NoError(t, st.SetClaims(ctx, idle, nil))
	gone, err := st.DeleteInvalid(ctx, now.Add(-7*24*time.Hour), 10, cleanup)
	require.NoError(t, err)
	assert.Len(t, gone, 3)
	counts, exact, err := st.RowsByTypeStatus(ctx, store.ExactBelowPages)
	require.NoError(t, err)
	assert.True(t, exact)
	assert.Equal(t, map[string]int{"OFFLINE/active": 5}, byKey(counts))
	keys, err := st.KeysInUse(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"k1"}, keys)
	sample, err := st.Sample(ctx, uuid.NewString(), 3, false)
	require.NoError(t, err)
	assert.Len(t, sample, 3)
	_, seen, _, err := st.ResealBatch(ctx, "k1", "", 10, true, func(store.Row) *store.Sealing { return nil })
	require.NoError(t, err)
	assert.Equal(t, 5, seen)
}
