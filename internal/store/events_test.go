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

// TestStoringIntoAnInvalidRowRecovers: a new token stored into the user's REFRESH row
// that Keycloak had refused makes it active again and appends token.recovered
// (stored_again) with the write; replacing an active row's token appends nothing.
func TestStoringIntoAnInvalidRowRecovers(t *testing.T) {
	st := testenv.MigratedStore(t, 4)
	ctx := context.Background()
	user := uuid.NewString()
	build := func(id string, cur *store.Row) (store.Row, error) {
		return store.Row{Meta: store.Meta{ID: id, UserID: user, Type: store.Refresh, SessionID: "sid"},
			Sealing: store.Sealing{EncryptedToken: uuid.NewString(), IV: "00", TokenHash: uuid.NewString()}}, nil
	}
	row, err := st.PutRefresh(ctx, user, 0, build)
	require.NoError(t, err)
	_, err = st.PutRefresh(ctx, user, 0, build)
	require.NoError(t, err)
	_, err = st.Pool().Exec(ctx, `UPDATE auth_vault SET status = 'invalid', last_error = 'invalid_grant: Session not active' WHERE id = $1`, row.ID)
	require.NoError(t, err)
	again, err := st.PutRefresh(ctx, user, 0, build)
	require.NoError(t, err)
	assert.Equal(t, row.ID, again.ID)
	assert.Equal(t, store.StatusActive, again.Status)
	evs, err := st.EventsAfter(ctx, user, 0, 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, store.EventRecovered, evs[0].Type)
	assert.Equal(t, store.CauseStoredAgain, evs[0].Cause)
	assert.Equal(t, row.ID, evs[0].RowID)
}

// TestDeliveryBacklog: the pending deliveries per subscriber and the age of the
// oldest event each still waits for; delivered ones do not count.
func TestDeliveryBacklog(t *testing.T) {
	st := testenv.MigratedStore(t, 4)
	ctx := context.Background()
	for _, s := range []string{"a", "b"} {
		_, err := st.FanOut(ctx, s, nil, 10)
		require.NoError(t, err)
	}
	user := uuid.NewString()
	require.NoError(t, st.AppendEvents(ctx,
		store.Event{Type: store.EventTokenInvalid, UserID: user, OccurredAt: time.Now().Add(-time.Hour)},
		store.Event{Type: store.EventTokenDeleted, UserID: user}))
	for _, s := range []string{"a", "b"} {
		n, err := st.FanOut(ctx, s, []string{store.EventTokenInvalid, store.EventTokenDeleted}, 10)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	}
	claimed, err := st.ClaimDeliveries(ctx, []string{"b"}, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1, "one user: only the oldest is ready")
	held, err := st.FinishDeliveries(ctx, []store.Outcome{{Delivery: claimed[0], State: store.DeliveryDelivered, Status: 204}})
	require.NoError(t, err)
	assert.Equal(t, []bool{true}, held)

	got, err := st.DeliveryBacklog(ctx)
	require.NoError(t, err)
	by := map[string]store.SubscriberBacklog{}
	for _, b := range got {
		by[b.Subscriber] = b
	}
	assert.Equal(t, 2, by["a"].Pending)
	assert.InDelta(t, time.Hour.Seconds(), by["a"].Oldest.Seconds(), 60)
	assert.Equal(t, 1, by["b"].Pending)
	assert.Less(t, by["b"].Oldest, time.Minute, "b's oldest left is the recent one")
	next, err := st.ClaimDeliveries(ctx, []string{"b"}, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, next, 1, "finishing the first readied the next")
	assert.Equal(t, store.EventTokenDeleted, next[0].Event.Type)
}
