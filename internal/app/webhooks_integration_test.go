package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// withReceiver subscribes rcv (on loopback, so allowed explicitly) to every event, with
// fast retries.
func withReceiver(cfg config.Config, rcv *testenv.Receiver) config.Config {
	cfg.Events.Webhooks = config.Webhooks{Timeout: 2 * time.Second, MaxAttempts: 60, Backoff: 200 * time.Millisecond,
		BackoffMax: 2 * time.Second, Concurrency: 8, Subscribers: []config.Subscriber{{Name: "receiver", URL: rcv.URL,
			Secrets: [][]byte{testenv.WebhookKey()}, AllowPrivate: true}}}
	return cfg
}

// TestWebhookTokenInvalid: a stored refresh token revoked at Keycloak is refused on its
// next use, and token.invalid reaches the subscriber within seconds, signed so that the
// reference Standard Webhooks library verifies it.
func TestWebhookTokenInvalid(t *testing.T) {
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{})
	rcv := testenv.StartReceiver(t)
	svc := testenv.StartService(t, withReceiver(realm.ServiceConfig(t), rcv))
	service := testenv.ClientToken(t, realm.Name, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
	id, alice := storeRefresh(t, svc, realm.Name, testenv.Alice)
	testenv.RevokeAtKeycloak(t, realm.Name, alice.RefreshToken)

	resp := accessToken(t, svc, service, id, "")
	changed := time.Now()
	require.Equal(t, http.StatusBadGateway, resp.Status, string(resp.Body))
	got := rcv.WaitFor(5*time.Second, "token.invalid", func(ds []testenv.Delivery) bool { return len(ds) > 0 })
	d := got[0]
	t.Logf("change to receipt: %s", d.At.Sub(changed))
	assert.Equal(t, "token.invalid", d.Event["type"])
	assert.Equal(t, id, d.Event["persistent_token_id"])
	assert.Equal(t, "invalid_grant", d.Event["cause"])
	assert.Equal(t, testenv.Claims(t, alice.AccessToken)["sid"], d.Event["session_id"])
	wh, err := standardwebhooks.NewWebhook(testenv.WebhookSecret)
	require.NoError(t, err)
	assert.NoError(t, wh.Verify(d.Body, d.Header), "the reference implementation verifies it")
	assert.NotContains(t, string(d.Body), alice.RefreshToken)
	assert.NotContains(t, string(d.Body), "eyJ", "never a token")

	// The pull API has the same event.
	evs, _ := listEvents(t, svc, service, "")
	require.Len(t, evs, 1)
	var pushed map[string]any
	require.NoError(t, json.Unmarshal(d.Body, &pushed))
	assert.Equal(t, evs[0], pushed, "the webhook body is the event GET /v1/events answers")
	// The outcome is recorded once the receiver has answered.
	assert.Eventually(t, func() bool {
		return strings.Contains(scrape(t, svc), `auth_manager_webhook_deliveries_total{outcome="delivered",subscriber="receiver"} 1`)
	}, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, svc.Logs.String(), `"event":"webhook_delivery"`)
}

// outage is how long the receiver is down in TestWebhooksSurviveAnOutage: 30 s, or
// AUTH_MANAGER_TEST_OUTAGE (a Go duration) to run it shorter.
func outage(t *testing.T) time.Duration {
	if v := os.Getenv("AUTH_MANAGER_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err)
		return d
	}
	return 30 * time.Second
}

// produce makes n token-health events through the vault: n offline rows of users
// users, then every row deleted because its session ended (session.ended each).
func produce(t *testing.T, v *vault.Service, users, n int) {
	t.Helper()
	ctx := context.Background()
	for u := range users {
		user, sid := uuid.NewString(), "sid-"+strconv.Itoa(u)
		var ids []string
		for range n / users {
			m, err := v.StoreOffline(ctx, user, sid, "opaque-"+uuid.NewString(), nil)
			require.NoError(t, err)
			ids = append(ids, m.ID)
		}
		gone, err := v.DeleteRows(ctx, vault.Ending{Cause: vault.CauseBackchannelLogout, Reason: "test"}, sid, ids)
		require.NoError(t, err)
		require.Len(t, gone, n/users)
	}
}

// TestWebhooksSurviveAnOutage: the receiver is down while 100 events are produced; once
// it is up again every one arrives, each webhook-id at least once.
func TestWebhooksSurviveAnOutage(t *testing.T) {
	rcv := testenv.StartReceiver(t)
	cfg := withReceiver(testenv.NewServiceConfig(t), rcv)
	svc := testenv.StartService(t, cfg, app.WithWebhookPoll(100*time.Millisecond))
	waitCursor(t, svc.App.Store, "receiver")
	down := outage(t)
	rcv.Down()
	start := time.Now()
	produce(t, svc.App.Vault, 10, 100)
	produced := time.Since(start)
	time.Sleep(down - produced)
	failed := metricValue(t, scrape(t, svc), `auth_manager_webhook_deliveries_total{outcome="failed",subscriber="receiver"}`)
	up := time.Now()
	rcv.Up()
	rcv.WaitFor(30*time.Second, "all 100 events", func([]testenv.Delivery) bool {
		distinct, _, _ := rcv.Counts()
		return distinct == 100
	})
	distinct, dups, overlaps := rcv.Counts()
	t.Logf("outage %s (events produced in %s): %d failed attempts meanwhile; after the receiver came back all %d arrived in %s; %d duplicates, %d concurrent",
		down, produced.Round(time.Millisecond), int(failed), distinct, time.Since(up).Round(time.Millisecond), dups, overlaps)
	assert.Equal(t, 100, distinct)
	assert.Positive(t, failed, "deliveries were tried during the outage")
	// The receiver counts a delivery when it arrives; the deliverer records it a moment
	// later, once the answer is back.
	assert.Eventually(t, func() bool {
		var pending int
		require.NoError(t, svc.App.Store.Pool().QueryRow(context.Background(),
			`SELECT count(*) FROM event_deliveries WHERE state <> 'delivered'`).Scan(&pending))
		return pending == 0
	}, 10*time.Second, 20*time.Millisecond, "every delivery recorded as delivered")
}

// waitCursor waits until the deliverer has started subscriber's fan-out (its cursor is
// where its deliveries begin).
func waitCursor(t *testing.T, st *store.Store, subscriber string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM event_subscriber_cursors WHERE subscriber = $1`, subscriber).Scan(&n)
		return err == nil && n == 1
	}, 10*time.Second, 20*time.Millisecond)
}

// TestWebhooksAfterAKill: the service is killed (SIGKILL) in the middle of a backlog;
// after a restart the rest arrives, and what was in flight at the kill is sent again
// once its lease has run out.
func TestWebhooksAfterAKill(t *testing.T) {
	rcv := testenv.StartReceiver(t)
	rcv.Delay = 50 * time.Millisecond
	cfg := testenv.NewServiceConfig(t)
	hooks, err := json.Marshal([]map[string]any{{"name": "receiver", "url": rcv.URL, "secrets": []string{testenv.WebhookSecret},
		"allow_private_network": true}})
	require.NoError(t, err)
	p := testenv.StartProcessWithEnv(t, cfg, "AUTH_MANAGER_WEBHOOKS="+string(hooks), "AUTH_MANAGER_WEBHOOKS_TIMEOUT=1s",
		"AUTH_MANAGER_WEBHOOKS_BACKOFF=100ms", "AUTH_MANAGER_WEBHOOKS_BACKOFF_MAX=1s", "AUTH_MANAGER_WEBHOOKS_CONCURRENCY=4")
	own, err := store.Open(context.Background(), store.Options{URL: cfg.Database.URL.Reveal(), MaxConns: 4}, testenv.DiscardLogger())
	require.NoError(t, err)
	t.Cleanup(own.Close)
	waitCursor(t, own, "receiver")
	var evs []store.Event
	for i := range 100 {
		evs = append(evs, store.Event{Type: store.EventTokenDeleted, UserID: uuid.NewString(), Cause: "n" + strconv.Itoa(i)})
	}
	require.NoError(t, own.AppendEvents(context.Background(), evs...))

	rcv.WaitFor(30*time.Second, "a third of the backlog", func(ds []testenv.Delivery) bool { return len(ds) >= 30 })
	p.Kill()
	killed := time.Now()
	before, _, _ := rcv.Counts()
	p.Start()
	rcv.WaitFor(60*time.Second, "the rest", func([]testenv.Delivery) bool {
		distinct, _, _ := rcv.Counts()
		return distinct == 100
	})
	arrived := time.Since(killed)
	// What was in flight at the kill is still leased to the dead process: it is sent
	// again once the lease (2 × timeout + 5 s) has run out.
	require.Eventually(t, func() bool {
		var pending int
		err := own.Pool().QueryRow(context.Background(), `SELECT count(*) FROM event_deliveries WHERE state = 'pending'`).Scan(&pending)
		return err == nil && pending == 0
	}, 30*time.Second, 100*time.Millisecond)
	distinct, dups, overlaps := rcv.Counts()
	t.Logf("killed after %d of 100; all arrived %s after the kill, the last lease ran out %s after it; %d duplicates (in flight at the kill), %d concurrent",
		before, arrived.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), dups, overlaps)
	assert.Equal(t, 100, distinct)
	assert.Zero(t, overlaps)
	assert.LessOrEqual(t, dups, 4, "at most what was in flight (the concurrency) is sent twice")
}
