package events_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/events"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// hooks is a webhook configuration for tests: fast retries.
func hooks(subs ...config.Subscriber) config.Webhooks {
	return config.Webhooks{Subscribers: subs, Timeout: 2 * time.Second, MaxAttempts: 5,
		Backoff: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond, Concurrency: 8}
}

func sub(name, url string, allowPrivate bool, types ...string) config.Subscriber {
	return config.Subscriber{Name: name, URL: url, Secrets: [][]byte{testenv.WebhookKey()}, Types: types, AllowPrivate: allowPrivate}
}

// drain runs rounds of name until one claims nothing twice in a row (retries come due
// within the test's backoff) or limit passes.
func drain(t *testing.T, d *events.Deliverer, name string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	idle := 0
	for idle < 2 && time.Now().Before(deadline) {
		n, err := d.Round(context.Background(), name)
		require.NoError(t, err)
		if n == 0 {
			idle++
			time.Sleep(150 * time.Millisecond)
		} else {
			idle = 0
		}
	}
}

func deliveryState(t *testing.T, st *store.Store, subscriber, eventID string) (state string, attempts int, lastError string) {
	t.Helper()
	require.NoError(t, st.Pool().QueryRow(context.Background(), `
SELECT d.state, d.attempts, coalesce(d.last_error, '') FROM event_deliveries d JOIN events e ON e.seq = d.event_seq
 WHERE d.subscriber = $1 AND e.id = $2`, subscriber, eventID).Scan(&state, &attempts, &lastError))
	return
}

// TestDeliverySignedAndFiltered: a subscriber gets the events of its types only,
// each signed so that the reference library verifies it, with the event as the body;
// a subscriber configured after events were written starts with the next one.
func TestDeliverySignedAndFiltered(t *testing.T) {
	testenv.Integration(t)
	st := testenv.MigratedStore(t, 6)
	ctx := context.Background()
	user := uuid.NewString()
	require.NoError(t, st.AppendEvents(ctx, store.Event{Type: store.EventTokenDeleted, UserID: user, Cause: "before"}))
	all, only := testenv.StartReceiver(t), testenv.StartReceiver(t)
	d := events.NewDeliverer(st, events.DeliverOptions{Webhooks: hooks(
		sub("all", all.URL, true), sub("only", only.URL, true, store.EventTokenInvalid))})
	_, err := d.Round(ctx, "all") // both cursors start now
	require.NoError(t, err)
	_, err = d.Round(ctx, "only")
	require.NoError(t, err)

	row := uuid.NewString()
	require.NoError(t, st.AppendEvents(ctx,
		store.Event{Type: store.EventTokenInvalid, UserID: user, RowID: row, TokenType: store.Offline, SessionID: "sid-1",
			Cause: store.CauseInvalidGrant, Details: map[string]any{"error": "invalid_grant"}},
		store.Event{Type: store.EventTokenDeleted, UserID: user, RowID: row, TokenType: store.Offline, Cause: store.CauseUser}))
	drain(t, d, "all", 5*time.Second)
	drain(t, d, "only", 5*time.Second)

	got := all.Deliveries()
	require.Len(t, got, 2, "the event written before the subscriber existed is not sent")
	assert.Equal(t, "token.invalid", got[0].Event["type"])
	assert.Equal(t, "token.deleted", got[1].Event["type"])
	require.Len(t, only.Deliveries(), 1)
	assert.Equal(t, "token.invalid", only.Deliveries()[0].Event["type"])

	wh, err := standardwebhooks.NewWebhookRaw(testenv.WebhookKey())
	require.NoError(t, err)
	for _, dl := range got {
		assert.NoError(t, wh.Verify(dl.Body, dl.Header), "verified by the reference implementation")
		assert.Equal(t, dl.ID, dl.Event["id"], "webhook-id is the event id")
		assert.Equal(t, "application/json", dl.Header.Get("Content-Type"))
	}
	e := got[0].Event
	assert.Equal(t, row, e["persistent_token_id"])
	assert.Equal(t, "offline", e["token_type"])
	assert.Equal(t, "sid-1", e["session_id"])
	assert.Equal(t, user, e["user_id"])
	assert.Equal(t, map[string]any{"error": "invalid_grant"}, e["details"])
}

// TestDeliveryRefusesPrivateTargets: a subscriber whose URL names or resolves to a
// loopback or link-local address (cloud metadata) is never connected to unless it
// allows private networks; a redirect is a failure, never followed.
func TestDeliveryRefusesPrivateTargets(t *testing.T) {
	testenv.Integration(t)
	st := testenv.MigratedStore(t, 6)
	ctx := context.Background()
	rcv := testenv.StartReceiver(t)
	_, port, _ := strings.Cut(rcv.Addr, ":")
	redirector := testenv.StartReceiver(t)
	redirector.Status = func(testenv.Delivery) int { return http.StatusTemporaryRedirect }
	subs := []config.Subscriber{
		sub("loopback", rcv.URL, false),
		sub("by-name", "http://localhost:"+port+"/hooks", false), // resolves to loopback at dial time
		sub("metadata", "http://169.254.169.254/latest/meta-data/", false),
		sub("allowed", rcv.URL, true),
		sub("redirect", redirector.URL, true),
	}
	d := events.NewDeliverer(st, events.DeliverOptions{Webhooks: hooks(subs...)})
	for _, s := range subs {
		_, err := d.Round(ctx, s.Name)
		require.NoError(t, err)
	}
	ev := store.Event{Type: store.EventTokenInvalid, UserID: uuid.NewString()}
	require.NoError(t, st.AppendEvents(ctx, ev))
	evs, err := st.EventsAfter(ctx, ev.UserID, 0, 1)
	require.NoError(t, err)
	for _, s := range subs {
		_, err := d.Round(ctx, s.Name)
		require.NoError(t, err)
	}

	got := rcv.Deliveries()
	require.Len(t, got, 1, "only the subscriber that allows private networks reached the loopback receiver")
	for _, name := range []string{"loopback", "by-name", "metadata"} {
		state, attempts, why := deliveryState(t, st, name, evs[0].ID)
		assert.Equal(t, "pending", state, name)
		assert.Equal(t, 1, attempts, name)
		assert.Contains(t, why, "not public", name)
	}
	state, _, why := deliveryState(t, st, "redirect", evs[0].ID)
	assert.Equal(t, "pending", state)
	assert.Equal(t, "answered 307", why, "the redirect was not followed")
	state, _, _ = deliveryState(t, st, "allowed", evs[0].ID)
	assert.Equal(t, "delivered", state)
}

// TestDeliveryOrderRetryAndDeadLetter: while a user's first event keeps failing, that
// user's later events wait and another user's go; after MaxAttempts the first is dead
// and the rest follow in order.
func TestDeliveryOrderRetryAndDeadLetter(t *testing.T) {
	testenv.Integration(t)
	st := testenv.MigratedStore(t, 6)
	ctx := context.Background()
	rcv := testenv.StartReceiver(t)
	alice, bob := uuid.NewString(), uuid.NewString()
	var mu sync.Mutex
	attempts := map[string]int{}
	rcv.Status = func(d testenv.Delivery) int {
		mu.Lock()
		defer mu.Unlock()
		attempts[d.ID]++
		if d.Event["cause"] == "poison" {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	d := events.NewDeliverer(st, events.DeliverOptions{Webhooks: hooks(sub("s", rcv.URL, true))})
	_, err := d.Round(ctx, "s")
	require.NoError(t, err)
	require.NoError(t, st.AppendEvents(ctx,
		store.Event{Type: store.EventTokenInvalid, UserID: alice, Cause: "poison"},
		store.Event{Type: store.EventTokenDeleted, UserID: alice, Cause: "second"},
		store.Event{Type: store.EventTokenInvalid, UserID: bob, Cause: "bob"},
		store.Event{Type: store.EventTokenDeleted, UserID: alice, Cause: "third"}))

	_, err = d.Round(ctx, "s")
	require.NoError(t, err)
	causes := func() []string {
		var out []string
		for _, dl := range rcv.Deliveries() {
			out = append(out, dl.Event["cause"].(string))
		}
		return out
	}
	assert.Equal(t, []string{"bob"}, causes(), "alice's later events wait behind her failing one")

	drain(t, d, "s", 10*time.Second)
	assert.Equal(t, []string{"bob", "second", "third"}, causes(), "in order once the first is dead")
	poison, err := st.EventsAfter(ctx, alice, 0, 1)
	require.NoError(t, err)
	state, n, why := deliveryState(t, st, "s", poison[0].ID)
	assert.Equal(t, "dead", state)
	assert.Equal(t, 5, n)
	assert.Equal(t, "answered 500", why)
	mu.Lock()
	assert.Equal(t, 5, attempts[poison[0].ID], "MaxAttempts attempts, same webhook-id")
	mu.Unlock()
}

// TestTwoReplicasDeliverABacklogOnce: two deliverers on one database share a backlog;
// no event is in flight twice at once, and none is lost.
func TestTwoReplicasDeliverABacklogOnce(t *testing.T) {
	testenv.Integration(t)
	st := testenv.MigratedStore(t, 12)
	rcv := testenv.StartReceiver(t)
	rcv.Delay = 5 * time.Millisecond
	cfg := hooks(sub("s", rcv.URL, true))
	one := events.NewDeliverer(st, events.DeliverOptions{Webhooks: cfg})
	two := events.NewDeliverer(st, events.DeliverOptions{Webhooks: cfg})
	_, err := one.Round(context.Background(), "s")
	require.NoError(t, err)
	const users, each = 40, 10
	var evs []store.Event
	for range users {
		u := uuid.NewString()
		for range each {
			evs = append(evs, store.Event{Type: store.EventTokenDeleted, UserID: u})
		}
	}
	require.NoError(t, st.AppendEvents(context.Background(), evs...))

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { one.Run(ctx) })
	wg.Go(func() { two.Run(ctx) })
	rcv.WaitFor(30*time.Second, "every event", func(got []testenv.Delivery) bool {
		distinct, _, _ := rcv.Counts()
		return distinct == users*each
	})
	cancel()
	wg.Wait()
	distinct, dups, overlaps := rcv.Counts()
	assert.Equal(t, users*each, distinct)
	assert.Zero(t, overlaps, "no event was in flight twice at once")
	assert.Zero(t, dups, "and none was delivered twice")
	t.Logf("two replicas, %d events: %d distinct, %d duplicates, %d concurrent", users*each, distinct, dups, overlaps)
	written, err := st.EventsAfter(context.Background(), "", 0, users*each)
	require.NoError(t, err)
	want, got := map[string][]string{}, map[string][]string{}
	for _, e := range written {
		want[e.UserID] = append(want[e.UserID], e.ID)
	}
	for _, dl := range rcv.Deliveries() {
		u := dl.Event["user_id"].(string)
		got[u] = append(got[u], dl.ID)
	}
	assert.Equal(t, want, got, "each user's events arrived in the order they were written")
}
