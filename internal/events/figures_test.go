package events_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/events"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestEventTypesAgree: the types the configuration accepts are the types the outbox
// writes.
func TestEventTypesAgree(t *testing.T) {
	assert.Equal(t, store.EventTypes, config.EventTypes)
}

// TestDeliveryFigures measures, with one deliverer (concurrency 16) and a receiver on
// loopback that answers at once: the time from an event's commit to its receipt (one
// event at a time, woken by NOTIFY), and how many events per second a backlog of 2000
// (200 users × 10) drains at.
func TestDeliveryFigures(t *testing.T) {
	testenv.Integration(t)
	st := testenv.MigratedStore(t, 8)
	rcv := testenv.StartReceiver(t)
	cfg := hooks(sub("s", rcv.URL, true))
	cfg.Concurrency = 16
	d := events.NewDeliverer(st, events.DeliverOptions{Webhooks: cfg, Poll: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	_, err := d.Round(ctx, "s")
	require.NoError(t, err)
	wg.Go(func() { d.Run(ctx) })
	time.Sleep(200 * time.Millisecond) // the LISTEN is in place

	var lat []time.Duration
	for i := range 50 {
		committed := time.Now()
		require.NoError(t, st.AppendEvents(context.Background(), store.Event{Type: store.EventTokenInvalid, UserID: uuid.NewString()}))
		got := rcv.WaitFor(5*time.Second, "the event", func(ds []testenv.Delivery) bool { return len(ds) == i+1 })
		lat = append(lat, got[i].At.Sub(committed))
	}
	slices.Sort(lat)
	t.Logf("commit to receipt, 50 events one at a time: median %s, p95 %s, max %s", lat[25], lat[47], lat[49])
	assert.Less(t, lat[25], time.Second, "woken by NOTIFY, not by the poll (a minute)")

	const users, each = 200, 10
	var evs []store.Event
	for range users {
		u := uuid.NewString()
		for range each {
			evs = append(evs, store.Event{Type: store.EventTokenDeleted, UserID: u})
		}
	}
	start := time.Now()
	require.NoError(t, st.AppendEvents(context.Background(), evs...))
	rcv.WaitFor(120*time.Second, "the backlog", func(ds []testenv.Delivery) bool { return len(ds) == 50+users*each })
	took := time.Since(start)
	t.Logf("backlog of %d events (%d users): delivered in %s, %.0f events/s", users*each, users, took.Round(time.Millisecond),
		float64(users*each)/took.Seconds())
	_, dups, overlaps := rcv.Counts()
	assert.Zero(t, dups)
	assert.Zero(t, overlaps)
}
