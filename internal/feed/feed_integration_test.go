package feed_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/ended"
	"github.com/auth-manager/auth-manager/internal/feed"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

var channels = []string{store.EvictChannel, store.EndedChannel}

// evictionRows returns the row ids in auth_vault_evictions, in seq order.
func evictionRows(t *testing.T, pg *pgx.Conn) []string {
	t.Helper()
	return query[[]string](t, pg, `SELECT coalesce(array_agg(row_id::text ORDER BY seq), '{}') FROM auth_vault_evictions`)
}

// TestEvictionAppendedAtCommit: a delete, and an update of status, owner, type or
// session, append their row's eviction when their transaction commits (not before,
// not on rollback); other updates (a refresh's) append nothing; seq order is commit
// order, whichever transaction changed its row first.
func TestEvictionAppendedAtCommit(t *testing.T) {
	ctx := t.Context()
	db := testenv.MigratedDatabase(t)
	pg := connect(t, db)
	ids := insertRows(t, pg, 8)

	tx, err := pg.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `DELETE FROM auth_vault WHERE id = $1`, ids[0])
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE auth_vault SET status = 'invalid', last_error = 'invalid_grant' WHERE id = $1`, ids[1])
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE auth_vault SET encrypted_token = 'cc', last_used_at = now(), updated_at = now() WHERE id = $1`, ids[2])
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE auth_vault SET session_state_id = 'other' WHERE id = $1`, ids[3])
	require.NoError(t, err)
	assert.Empty(t, evictionRows(t, pg), "nothing is appended before the commit")
	require.NoError(t, tx.Commit(ctx))
	assert.Equal(t, []string{ids[0], ids[1], ids[3]}, evictionRows(t, pg))

	tx, err = pg.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `DELETE FROM auth_vault WHERE id = $1`, ids[4])
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	assert.Len(t, evictionRows(t, pg), 3, "a rolled-back delete appends nothing")

	// The first to change its row commits last: its eviction comes after.
	other := connect(t, db)
	first, err := pg.Begin(ctx)
	require.NoError(t, err)
	_, err = first.Exec(ctx, `DELETE FROM auth_vault WHERE id = $1`, ids[5])
	require.NoError(t, err)
	deleteRow(t, other, ids[6])
	require.NoError(t, first.Commit(ctx))
	assert.Equal(t, []string{ids[0], ids[1], ids[3], ids[6], ids[5]}, evictionRows(t, pg))
}

// TestFollowerWakesUpAndReplays: a following replica applies another's evictions and
// ended sessions as soon as they commit (NOTIFY), not at its poll (an hour here); when
// its LISTEN connection is terminated, what is committed meanwhile reaches it once the
// connection is back, from its last seq, and its cache is never flushed.
func TestFollowerWakesUpAndReplays(t *testing.T) {
	ctx := t.Context()
	db := testenv.MigratedDatabase(t)
	pg := connect(t, db)
	ids := insertRows(t, pg, 30)
	writer := ended.New(testenv.Replica(t, db, "w"), nil, ended.Options{})
	fst := testenv.Replica(t, db, "f")
	sessions := ended.New(fst, nil, ended.Options{})
	f := feed.New(fst, feed.Options{Listen: true, Channels: channels, Poll: time.Hour})
	cache := newRecorder()
	run(t, f, cache, sessions)
	require.GreaterOrEqual(t, testenv.Within(5*time.Second, f.Fresh), time.Duration(0), "the follower's feed is fresh")

	var worst time.Duration
	for i := range 20 {
		start := time.Now()
		deleteRow(t, pg, ids[i])
		require.GreaterOrEqual(t, testenv.Within(2*time.Second, func() bool { return cache.has(ids[i]) }), time.Duration(0),
			"eviction %d reached the follower", i)
		worst = max(worst, time.Since(start))
	}
	t.Logf("FIGURES follower applied each of 20 evictions at most %s after the delete was sent", worst)
	require.NoError(t, writer.EndSession(ctx, "s-first", ""))
	require.GreaterOrEqual(t, testenv.Within(2*time.Second, func() bool { return sessions.Ended("s-first", "app", "u", time.Now(), false) }),
		time.Duration(0), "an ended session reached the follower on the same wake-ups")

	for round := range 3 {
		require.Equal(t, 1, terminateListener(t, pg, "f"), "round %d: the follower's listener", round)
		require.GreaterOrEqual(t, testenv.Within(2*time.Second, func() bool { return !f.Fresh() }), time.Duration(0),
			"round %d: the follower saw its connection go", round)
		// Committed while the follower waits to reconnect (100 ms at the first retry):
		// no LISTEN is in place to receive the NOTIFY.
		id := ids[20+round]
		deleteRow(t, pg, id)
		sid := fmt.Sprintf("missed-%d", round)
		require.NoError(t, writer.EndSession(ctx, sid, ""))
		d := testenv.Within(10*time.Second, func() bool {
			return cache.has(id) && sessions.Ended(sid, "app", "u", time.Now(), false) && f.Fresh()
		})
		require.GreaterOrEqual(t, d, time.Duration(0), "round %d: what was committed during the outage was replayed", round)
		t.Logf("FIGURES round %d: eviction and ended session committed during the listener outage applied, feed fresh, %s later", round, d)
	}
	assert.Zero(t, cache.flushed(), "no outage emptied the cache")
	for _, id := range ids[:23] {
		assert.Equal(t, 1, cache.times(id), "each eviction applied once")
	}
	assert.False(t, cache.has(ids[29]), "rows not deleted are not evicted")
}

// TestPollMode: without LISTEN (behind a transaction pooler) a follower applies
// evictions within its poll; cut off from the database it stops being fresh after two
// polls, and once the network is back it replays what it missed without a flush.
func TestPollMode(t *testing.T) {
	db := testenv.MigratedDatabase(t)
	pg := connect(t, db)
	ids := insertRows(t, pg, 10)
	u, err := url.Parse(db)
	require.NoError(t, err)
	fwd := testenv.Forward(t, u.Host)
	const poll = 50 * time.Millisecond
	f := feed.New(replicaVia(t, db, "f", fwd), feed.Options{Poll: poll})
	cache := newRecorder()
	run(t, f, cache)
	require.GreaterOrEqual(t, testenv.Within(5*time.Second, f.Fresh), time.Duration(0))

	var worst time.Duration
	for i := range 5 {
		start := time.Now()
		deleteRow(t, pg, ids[i])
		require.GreaterOrEqual(t, testenv.Within(5*time.Second, func() bool { return cache.has(ids[i]) }), time.Duration(0))
		worst = max(worst, time.Since(start))
	}
	assert.Less(t, worst, poll+time.Second, "within a poll (and a busy machine's slack)")
	t.Logf("FIGURES poll mode (%s): each of 5 evictions applied at most %s after the delete was sent", poll, worst)

	fwd.Cut()
	stale := testenv.Within(5*time.Second, func() bool { return !f.Fresh() })
	require.GreaterOrEqual(t, stale, time.Duration(0), "cut off, the follower stops being fresh")
	deleteRow(t, pg, ids[5])
	deleteRow(t, pg, ids[6])
	time.Sleep(3 * poll)
	assert.False(t, cache.has(ids[5]), "nothing read while cut off")
	assert.False(t, f.Fresh())
	fwd.Restore()
	back := testenv.Within(10*time.Second, func() bool { return f.Fresh() && cache.has(ids[5]) && cache.has(ids[6]) })
	require.GreaterOrEqual(t, back, time.Duration(0), "once reachable, the missed evictions are replayed")
	assert.Zero(t, cache.flushed())
	t.Logf("FIGURES poll mode: not fresh %s after the cut; fresh with the missed evictions %s after the network came back", stale, back)
}

// TestConcurrentDeletesAllSeen: evictions committed by many writers at once reach a
// follower reading all the while, each exactly once: a follower never reads past a
// seq that a slower commit takes later.
func TestConcurrentDeletesAllSeen(t *testing.T) {
	const writers, each = 6, 40
	db := testenv.MigratedDatabase(t)
	pg := connect(t, db)
	ids := insertRows(t, pg, writers*each)
	f := feed.New(testenv.Replica(t, db, "f"), feed.Options{Poll: time.Millisecond})
	cache := newRecorder()
	run(t, f, cache)
	require.GreaterOrEqual(t, testenv.Within(5*time.Second, f.Fresh), time.Duration(0))

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			conn := connect(t, db)
			for _, id := range ids[w*each : (w+1)*each] {
				if _, err := conn.Exec(context.Background(), `DELETE FROM auth_vault WHERE id = $1`, id); err != nil {
					t.Errorf("delete: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.GreaterOrEqual(t, testenv.Within(10*time.Second, func() bool {
		for _, id := range ids {
			if !cache.has(id) {
				return false
			}
		}
		return true
	}), time.Duration(0), "every eviction reached the follower")
	for _, id := range ids {
		assert.Equal(t, 1, cache.times(id), id)
	}
}

// TestPruneByAgeAndGap: evictions older than the retention are deleted (the others
// kept) and the pruned horizon recorded; a follower whose last seq is below it flushes
// its cache once and goes on from there; a follower that kept up does not.
func TestPruneByAgeAndGap(t *testing.T) {
	ctx := t.Context()
	db := testenv.MigratedDatabase(t)
	pg := connect(t, db)
	ids := insertRows(t, pg, 6)
	st := testenv.Replica(t, db, "f")

	behind := feed.New(st, feed.Options{Poll: 10 * time.Millisecond})
	behindCache := newRecorder()
	stopBehind := run(t, behind, behindCache)
	require.GreaterOrEqual(t, testenv.Within(5*time.Second, behind.Fresh), time.Duration(0))
	stopBehind() // its last seq stays where it was: it is cut off from here on

	kept := feed.New(st, feed.Options{Poll: 10 * time.Millisecond})
	keptCache := newRecorder()
	run(t, kept, keptCache)
	require.GreaterOrEqual(t, testenv.Within(5*time.Second, kept.Fresh), time.Duration(0))

	for _, id := range ids[:4] {
		deleteRow(t, pg, id)
	}
	require.GreaterOrEqual(t, testenv.Within(5*time.Second, func() bool { return keptCache.has(ids[3]) }), time.Duration(0))
	_, err := pg.Exec(ctx, `UPDATE auth_vault_evictions SET at = at - interval '2 hours' WHERE row_id = ANY($1::uuid[])`, ids[:3])
	require.NoError(t, err)
	oldest := query[int64](t, pg, `SELECT max(seq) FROM auth_vault_evictions WHERE row_id = ANY($1::uuid[])`, ids[:3])

	n, err := st.PruneEvictions(ctx, time.Hour, 2)
	require.NoError(t, err)
	assert.EqualValues(t, 2, n, "at most the batch")
	n, err = st.PruneEvictions(ctx, time.Hour, 100)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	assert.Equal(t, []string{ids[3]}, evictionRows(t, pg), "the young eviction is kept")
	assert.Equal(t, oldest, query[int64](t, pg, `SELECT through FROM auth_vault_evictions_pruned`))
	n, err = st.PruneEvictions(ctx, time.Hour, 100)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, oldest, query[int64](t, pg, `SELECT through FROM auth_vault_evictions_pruned`), "the horizon never goes back")

	deleteRow(t, pg, ids[4])
	run(t, behind, behindCache) // back: its last seq is below the pruned horizon
	require.GreaterOrEqual(t, testenv.Within(5*time.Second, func() bool { return behindCache.has(ids[4]) && behind.Fresh() }),
		time.Duration(0))
	assert.Equal(t, 1, behindCache.flushed(), "a gap empties the cache once")
	for _, id := range ids[:3] {
		assert.False(t, behindCache.has(id), "pruned before it was read")
	}
	assert.True(t, behindCache.has(ids[3]), "kept evictions after the gap are applied")
	deleteRow(t, pg, ids[5])
	require.GreaterOrEqual(t, testenv.Within(5*time.Second, func() bool { return behindCache.has(ids[5]) }), time.Duration(0))
	assert.Equal(t, 1, behindCache.flushed(), "and only once")

	require.GreaterOrEqual(t, testenv.Within(5*time.Second, func() bool { return keptCache.has(ids[5]) }), time.Duration(0))
	assert.Zero(t, keptCache.flushed(), "a follower that kept up sees no gap")
}

// TestPrunesOnItsOwn: a running follower deletes evictions older than its retention
// every PruneEvery.
func TestPrunesOnItsOwn(t *testing.T) {
	db := testenv.MigratedDatabase(t)
	pg := connect(t, db)
	ids := insertRows(t, pg, 3)
	for _, id := range ids {
		deleteRow(t, pg, id)
	}
	_, err := pg.Exec(t.Context(), `UPDATE auth_vault_evictions SET at = at - interval '2 minutes' WHERE row_id = ANY($1::uuid[])`, ids[:2])
	require.NoError(t, err)
	f := feed.New(testenv.Replica(t, db, "f"), feed.Options{Retention: time.Minute, PruneEvery: 20 * time.Millisecond})
	run(t, f, newRecorder())
	require.GreaterOrEqual(t, testenv.Within(5*time.Second, func() bool { return len(evictionRows(t, pg)) == 1 }), time.Duration(0))
	assert.Equal(t, []string{ids[2]}, evictionRows(t, pg))
}
