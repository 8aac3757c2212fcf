package store_test

import (
	"context"
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

// TestEventsCommitInSeqOrder: a writer that appended events and has not committed yet
// makes every later writer wait, so a reader that has read up to seq N never finds a
// smaller seq committed later: the cursor of GET /v1/events and of the fan-out is safe.
func TestEventsCommitInSeqOrder(t *testing.T) {
	st := testenv.MigratedStore(t, 8)
	ctx := context.Background()
	user := uuid.NewString()
	ev := func(cause string) store.Event {
		return store.Event{Type: store.EventTokenDeleted, Cause: cause, UserID: user}
	}

	var committedA time.Time
	var wg sync.WaitGroup
	wg.Go(func() {
		require.NoError(t, pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
			if err := store.AppendEventsTx(ctx, tx, ev("first")); err != nil {
				return err
			}
			time.Sleep(400 * time.Millisecond)
			return nil
		}))
		committedA = time.Now()
	})
	time.Sleep(100 * time.Millisecond)
	// Read while the first writer holds its events uncommitted.
	seen, err := st.EventsAfter(ctx, user, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, seen, "nothing committed yet")
	require.NoError(t, st.AppendEvents(ctx, ev("second")))
	returnedB := time.Now()
	wg.Wait()

	assert.False(t, returnedB.Before(committedA.Add(-50*time.Millisecond)), "the second writer waited for the first to commit")
	evs, err := st.EventsAfter(ctx, user, 0, 10)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, "first", evs[0].Cause)
	assert.Equal(t, "second", evs[1].Cause)
	assert.Less(t, evs[0].Seq, evs[1].Seq)
}

// TestConcurrentWritersAndAFollowingReader: writers append from many connections while
// a reader follows by cursor; it sees every event once, in seq order.
func TestConcurrentWritersAndAFollowingReader(t *testing.T) {
	st := testenv.MigratedStore(t, 10)
	ctx := context.Background()
	user := uuid.NewString()
	const writers, each = 6, 40
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				assert.NoError(t, st.AppendEvents(ctx, store.Event{Type: store.EventTokenInvalid, UserID: user}))
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var cursor int64
	got := map[int64]bool{}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		evs, err := st.EventsAfter(ctx, user, cursor, 7)
		require.NoError(t, err)
		for _, e := range evs {
			require.Greater(t, e.Seq, cursor)
			require.False(t, got[e.Seq], "seen twice")
			got[e.Seq], cursor = true, e.Seq
		}
		if finished && len(evs) > 0 {
			finished = false // drain
		}
	}
	assert.Len(t, got, writers*each)
}
