package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/events"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestPruneKeepsRetentionAndPendingDeliveries: events older than the retention go,
// except one a subscriber still waits for, up to twice the retention; newer ones stay.
func TestPruneKeepsRetentionAndPendingDeliveries(t *testing.T) {
	testenv.Integration(t)
	st := testenv.MigratedStore(t, 4)
	ctx := context.Background()
	now := time.Now()
	user := uuid.NewString()
	at := func(ago time.Duration, cause string) store.Event {
		return store.Event{Type: store.EventTokenDeleted, UserID: user, Cause: cause, OccurredAt: now.Add(-ago)}
	}
	require.NoError(t, st.AppendEvents(ctx, at(3*time.Hour, "too old, awaited"), at(2*time.Hour, "old"),
		at(90*time.Minute, "old, awaited"), at(time.Minute, "new")))
	evs, err := st.EventsAfter(ctx, user, 0, 10)
	require.NoError(t, err)
	require.Len(t, evs, 4)
	for _, i := range []int{0, 2} {
		_, err = st.Pool().Exec(ctx, `INSERT INTO event_deliveries (subscriber, event_seq, user_id) VALUES ('s', $1, $2)`, evs[i].Seq, user)
		require.NoError(t, err)
	}

	svc := events.New(st, events.Options{Retention: time.Hour, Now: func() time.Time { return now }})
	n, err := svc.Prune(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
	left, err := st.EventsAfter(ctx, user, 0, 10)
	require.NoError(t, err)
	var causes []string
	for _, e := range left {
		causes = append(causes, e.Cause)
	}
	assert.Equal(t, []string{"old, awaited", "new"}, causes)
}
