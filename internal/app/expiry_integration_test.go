package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestTokenExpiringBeforeTheDeadline: in a realm whose offline sessions live at most 5
// minutes, a stored offline token is announced (token.expiring) before its deadline,
// which is the session's start plus 5 minutes, and GET /v1/tokens shows the same
// expires_at; an online refresh token gets the realm's SSO Session Max, outside the
// horizon, so no announcement. A deadline is announced once, however many passes.
func TestTokenExpiringBeforeTheDeadline(t *testing.T) {
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{OfflineMaxLifespan: 5 * time.Minute})
	rcv := testenv.StartReceiver(t)
	cfg := withReceiver(realm.ServiceConfig(t), rcv)
	cfg.Events.ForecastInterval, cfg.Events.HorizonOffline, cfg.Events.HorizonRefresh = time.Second, time.Hour, time.Hour
	svc := testenv.StartService(t, cfg)

	offline := realm.Login(t, testenv.Alice, "openid offline_access")
	loggedIn := time.Now()
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", offline.AccessToken, map[string]any{"refresh_token": offline.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	offlineRow := resp.Data(t)["persistent_token_id"].(string)
	online := realm.Login(t, testenv.Alice, "openid")
	resp = svc.Do(t, http.MethodPost, "/v1/refresh-token", online.AccessToken, map[string]any{"refresh_token": online.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	onlineRow := resp.Data(t)["persistent_token_id"].(string)

	got := rcv.WaitFor(20*time.Second, "token.expiring", func(ds []testenv.Delivery) bool { return len(ds) > 0 })
	d := got[0]
	assert.Equal(t, "token.expiring", d.Event["type"])
	assert.Equal(t, offlineRow, d.Event["persistent_token_id"])
	assert.Equal(t, "offline_session_max_lifespan", d.Event["cause"])
	details := d.Event["details"].(map[string]any)
	deadline, err := time.Parse(time.RFC3339Nano, details["expires_at"].(string))
	require.NoError(t, err)
	assert.True(t, d.At.Before(deadline), "announced before the deadline")
	assert.WithinDuration(t, loggedIn.Add(5*time.Minute), deadline, 10*time.Second, "the session's start + Offline Session Max")
	t.Logf("token.expiring arrived %s before the deadline", deadline.Sub(d.At).Round(time.Second))

	// The online row was stored after the offline one: a pass may have announced the
	// offline row before the online row existed, so wait for the pass that forecast both.
	byID := map[string]map[string]any{}
	require.Eventually(t, func() bool {
		listed := svc.Do(t, http.MethodGet, "/v1/tokens", online.AccessToken, nil)
		require.Equal(t, http.StatusOK, listed.Status, string(listed.Body))
		clear(byID)
		for _, it := range listed.DataList(t) {
			m := it.(map[string]any)
			byID[m["persistent_token_id"].(string)] = m
		}
		return byID[offlineRow]["expires_basis"] != nil && byID[onlineRow]["expires_basis"] != nil
	}, 10*time.Second, 100*time.Millisecond, "both rows forecast")
	require.Contains(t, byID, offlineRow)
	listedAt, err := time.Parse(time.RFC3339Nano, byID[offlineRow]["expires_at"].(string))
	require.NoError(t, err)
	assert.True(t, deadline.Equal(listedAt), "GET /v1/tokens shows the announced expires_at: %s vs %s", listedAt, deadline)
	assert.Equal(t, "offline_session_max_lifespan", byID[offlineRow]["expires_basis"])
	require.Contains(t, byID, onlineRow)
	assert.Equal(t, "sso_session_max_lifespan", byID[onlineRow]["expires_basis"])
	ssoDeadline, err := time.Parse(time.RFC3339Nano, byID[onlineRow]["expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(10*time.Hour), ssoDeadline, time.Minute, "the dev realm's SSO Session Max, 10 h")

	time.Sleep(3 * time.Second) // three more passes
	n := 0
	for _, dl := range rcv.Deliveries() {
		if dl.Event["type"] == "token.expiring" {
			n++
		}
	}
	assert.Equal(t, 1, n, "one announcement per token and deadline")
}
