package app_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// named is cfg with its database connections named name in pg_stat_activity.
func named(t *testing.T, cfg config.Config, name string) config.Config {
	t.Helper()
	u, err := url.Parse(cfg.Database.URL.Reveal())
	require.NoError(t, err)
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	cfg.Database.URL = config.Secret(u.String())
	return cfg
}

// dbQuery runs one statement on cfg's database and returns the first column of its row.
func dbQuery[T any](t *testing.T, cfg config.Config, q string, args ...any) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, cfg.Database.URL.Reveal())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var v T
	require.NoError(t, conn.QueryRow(ctx, q, args...).Scan(&v))
	return v
}

// validate asks svc to validate token and returns the status.
func validate(t *testing.T, svc *testenv.Service, token string) int {
	t.Helper()
	return svc.Do(t, http.MethodGet, "/v1/validate-token", token, nil).Status
}

// endSessionOn ends tk's session through svc (DELETE /v1/sessions/{id}) and checks that
// svc refuses tk's access token at once.
func endSessionOn(t *testing.T, svc *testenv.Service, tk testenv.Tokens) {
	t.Helper()
	resp := svc.Do(t, http.MethodDelete, "/v1/sessions/"+sid(t, tk), tk.AccessToken, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, http.StatusUnauthorized, validate(t, svc, tk.AccessToken))
}

// TestReplicaStartedAfterALogoutRefusesTheSession (jwt mode, where nothing but the
// service's memory refuses a token before its exp): a replica started after sessions
// ended refuses their tokens from its first request, for a session ended through the
// API, for the session Keycloak's sign-out of a user notified, and for the user's other
// session that only the reconciliation found gone; it accepts everyone else's.
func TestReplicaStartedAfterALogoutRefusesTheSession(t *testing.T) {
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	cfg.Auth.Mode = config.AuthModeJWT
	cfg.Auth.IntrospectionTTL = 300 * time.Second
	a := testenv.StartService(t, cfg)
	realm.Create(testenv.RealmOptions{BackchannelURL: a.URL + "/v1/backchannel-logout"})

	alice, carol := realm.Login(t, testenv.Alice, ""), realm.Login(t, testenv.Carol, "")
	bob1, bob2 := realm.Login(t, testenv.Bob, ""), realm.Login(t, testenv.Bob, "")
	for _, tk := range []testenv.Tokens{alice, carol, bob1, bob2} {
		acceptedEverywhere(t, tk.AccessToken, a)
	}
	endSessionOn(t, a, alice)
	// The user rule covers tokens issued in a second before the logout's arrival.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	realm.LogoutUser(t, realm.UserID(t, testenv.Bob))
	refusedAfter(t, time.Now(), 5*time.Second, bob1.AccessToken, a)
	refusedAfter(t, time.Now(), 5*time.Second, bob2.AccessToken, a)
	// Both reconciliations (0.5 s and 3 s after the logout) have recorded their rule.
	time.Sleep(3500 * time.Millisecond)

	start := time.Now()
	b := testenv.StartService(t, cfg)
	t.Logf("FIGURES a replica started after the logouts: New took %s", time.Since(start))
	for name, tk := range map[string]testenv.Tokens{"alice (DELETE /v1/sessions)": alice, "bob's first session": bob1, "bob's second session": bob2} {
		resp := b.Do(t, http.MethodGet, "/v1/validate-token", tk.AccessToken, nil)
		assert.Equal(t, http.StatusUnauthorized, resp.Status, "%s: %s", name, resp.Body)
		assert.Equal(t, "token_not_active", resp.JSON(t)["code"], name)
	}
	assert.Equal(t, http.StatusOK, validate(t, b, carol.AccessToken), "another user's session is not ended")
	// Keycloak also notifies the end of alice's session, whose reconciliation records a
	// rule for alice.
	sessions, users := b.App.Ended.Size()
	assert.GreaterOrEqual(t, sessions, 2, "alice's session and the notified one of bob's")
	assert.GreaterOrEqual(t, users, 1, "bob's rule")
}

// TestReplicaReplaysEndsMissedDuringAListenerOutage (jwt mode): replica B's LISTEN
// connection is terminated (pg_terminate_backend, again whenever it comes back) while a
// session ends on replica A, so B gets no notification of it; B polls only hourly here.
// Once its connection is back, B refuses the session's tokens: the reconnection read
// everything after B's last seq.
func TestReplicaReplaysEndsMissedDuringAListenerOutage(t *testing.T) {
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	cfg.Auth.Mode = config.AuthModeJWT
	cfg.Auth.IntrospectionTTL = 300 * time.Second
	a := testenv.StartService(t, named(t, cfg, "replica-a"))
	bcfg := named(t, cfg, "replica-b")
	b := testenv.StartService(t, bcfg, app.WithFeedPoll(time.Hour))
	realm.Create(testenv.RealmOptions{BackchannelURL: a.URL + "/v1/backchannel-logout"})
	alice, carol := realm.Login(t, testenv.Alice, ""), realm.Login(t, testenv.Carol, "")
	acceptedEverywhere(t, alice.AccessToken, a, b)
	acceptedEverywhere(t, carol.AccessToken, a, b)
	require.Eventually(t, b.App.Ended.Current, 5*time.Second, 5*time.Millisecond)

	// Terminate B's listener, and again every few milliseconds once it reconnects.
	stop := terminateListenerLoop(t, cfg, "replica-b")
	require.Eventually(t, func() bool { return !b.App.Ended.Current() }, 5*time.Second, time.Millisecond, "B's feed went down")
	endSessionOn(t, a, alice)
	time.Sleep(300 * time.Millisecond)
	killed := stop()
	stopped := time.Now()
	require.Positive(t, killed)

	d := refusedAfter(t, stopped, 10*time.Second, alice.AccessToken, b)
	t.Logf("FIGURES B's listener terminated %d times around the logout; B refused the session %s after the terminations stopped", killed, d[0])
	assert.Equal(t, http.StatusOK, validate(t, b, carol.AccessToken), "B serves other sessions")
	assert.Contains(t, b.Logs.String(), "listen connection lost")
}

// TestVolumeCannotFlushAnEndedSession (jwt mode): after 150 000 more sessions ended (one
// and a half times what an LRU of 100 000 held), the first is still refused by the
// replica that followed them and by one started afterwards.
func TestVolumeCannotFlushAnEndedSession(t *testing.T) {
	const more = 150_000
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	cfg.Auth.Mode = config.AuthModeJWT
	a := testenv.StartService(t, cfg)
	realm.Create(testenv.RealmOptions{})
	alice := realm.Login(t, testenv.Alice, "")
	acceptedEverywhere(t, alice.AccessToken, a)
	endSessionOn(t, a, alice)

	// Recorded as replicas record them, in one statement, then one wake-up.
	require.Equal(t, more, dbQuery[int](t, cfg, `WITH i AS (
		INSERT INTO ended_sessions (session_id, expires_at)
		SELECT 'vol-' || lpad(g::text, 20, '0'), now() + interval '6 minutes' FROM generate_series(1, $1) g
		RETURNING 1) SELECT count(*)::int FROM i`, more))
	require.Equal(t, "", dbQuery[string](t, cfg, `SELECT pg_notify($1, '')::text`, store.EndedChannel))
	require.Eventually(t, func() bool { s, _ := a.App.Ended.Size(); return s >= more+1 }, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, http.StatusUnauthorized, validate(t, a, alice.AccessToken), "the replica that followed them")

	start := time.Now()
	b := testenv.StartService(t, cfg)
	took := time.Since(start)
	s, _ := b.App.Ended.Size()
	assert.Equal(t, more+1, s)
	assert.Equal(t, http.StatusUnauthorized, validate(t, b, alice.AccessToken), "a replica started afterwards")
	t.Logf("FIGURES a replica started with %d ended sessions recorded: New (migrations checked, feed loaded) took %s", more+1, took)
}
