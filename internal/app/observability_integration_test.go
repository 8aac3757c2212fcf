package app_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

// metricValue returns the value of the sample whose line starts with prefix (name and
// labels), or -1 when absent.
func metricValue(t *testing.T, body, prefix string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, prefix)), 64)
			require.NoError(t, err)
			return v
		}
	}
	return -1
}

func scrape(t *testing.T, svc *testenv.Service) string {
	t.Helper()
	resp := svc.Do(t, http.MethodGet, "/metrics", "", nil)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	return string(resp.Body)
}

// TestMetricsMoveWhenExercised: every family is present and the ones a flow touches move.
func TestMetricsMoveWhenExercised(t *testing.T) {
	svc := testenv.StartService(t, testenv.NewServiceConfig(t))
	waitCacheFeed(t, svc)
	before := scrape(t, svc)
	id, alice := storeRefresh(t, svc, testenv.Realm, testenv.Alice)
	require.Equal(t, http.StatusOK, accessToken(t, svc, alice.AccessToken, id, "").Status) // miss → refresh
	require.Equal(t, http.StatusOK, accessToken(t, svc, alice.AccessToken, id, "").Status) // hit
	require.Equal(t, http.StatusOK, svc.Do(t, http.MethodDelete, "/v1/tokens/"+id, alice.AccessToken, nil).Status)
	svc.Do(t, http.MethodGet, "/no/such/path/"+id, "", nil)
	// The delete reaches the cache through the database's NOTIFY, asynchronously.
	require.Eventually(t, func() bool { return svc.App.Tokens.CacheStats().Evictions > 0 }, 5*time.Second, 10*time.Millisecond)
	svc.App.RefreshVaultRows(t.Context())
	after := scrape(t, svc)

	for _, family := range []string{
		"auth_manager_http_requests_total", "auth_manager_http_request_duration_seconds",
		"auth_manager_keycloak_requests_total", "auth_manager_keycloak_request_duration_seconds",
		"auth_manager_access_token_cache_hits_total", "auth_manager_access_token_cache_misses_total",
		"auth_manager_access_token_cache_evictions_total", "auth_manager_access_token_cache_size",
		"auth_manager_token_refreshes_total", "auth_manager_vault_rows", "auth_manager_db_pool_connections_max",
		"auth_manager_db_pool_acquires_total", "auth_manager_build_info", "go_goroutines", "process_resident_memory_bytes",
	} {
		assert.True(t, strings.Contains(after, "# TYPE "+family+" "), "family %s missing", family)
	}
	assert.Equal(t, 0.0, metricValue(t, after, `auth_manager_vault_rows{status="active",type="refresh"}`), "the deleted row is gone from the gauge")

	grew := func(prefix string) {
		t.Helper()
		assert.Greater(t, metricValue(t, after, prefix), max(metricValue(t, before, prefix), 0), prefix)
	}
	grew(`auth_manager_http_requests_total{method="POST",route="/v1/access-token",status="200"}`)
	grew(`auth_manager_http_request_duration_seconds_count{method="POST",route="/v1/access-token"}`)
	grew(`auth_manager_keycloak_requests_total{op="refresh",outcome="ok"}`)
	grew(`auth_manager_keycloak_requests_total{op="introspect",outcome="ok"}`)
	grew(`auth_manager_keycloak_requests_total{op="revoke",outcome="ok"}`)
	grew(`auth_manager_token_refreshes_total{outcome="ok"}`)
	grew(`auth_manager_access_token_cache_hits_total`)
	grew(`auth_manager_access_token_cache_misses_total`)
	grew(`auth_manager_access_token_cache_evictions_total`)
	grew(`auth_manager_db_pool_acquires_total`)
	grew(`auth_manager_http_requests_total{method="GET",route="unmatched",status="404"}`)
	assert.False(t, strings.Contains(after, id), "no row id in any label")
	assert.False(t, strings.Contains(after, "/no/such/path"), "raw paths never become labels")
}

// TestAuditTrail runs the token flows with the log captured: the expected events are
// there with their fields, and no line holds a token or any part of the vault key.
func TestAuditTrail(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	svc := testenv.StartService(t, cfg)
	waitCacheFeed(t, svc)
	id, alice := storeRefresh(t, svc, testenv.Realm, testenv.Alice)
	sub := testenv.Claims(t, alice.AccessToken)["sub"].(string)
	service := testenv.ClientToken(t, testenv.Realm, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
	access := accessToken(t, svc, service, id, "")
	require.Equal(t, http.StatusOK, access.Status)
	require.Equal(t, http.StatusOK, accessToken(t, svc, alice.AccessToken, id, "").Status)
	bob := testenv.Login(t, testenv.Bob).AccessToken
	require.Equal(t, http.StatusNotFound, accessToken(t, svc, bob, id, "").Status)
	require.Equal(t, http.StatusOK, svc.Do(t, http.MethodDelete, "/v1/tokens/"+id, alice.AccessToken, nil).Status)

	type event struct {
		Msg, Event, RequestID, Actor, Subject, RowID, SessionID, Outcome, ErrorCode, Detail string
	}
	var events []event
	logs := svc.Logs.String()
	for _, line := range strings.Split(logs, "\n") {
		var raw map[string]any
		if json.Unmarshal([]byte(line), &raw) != nil || raw["msg"] != "audit" {
			continue
		}
		get := func(k string) string { s, _ := raw[k].(string); return s }
		for _, k := range []string{"time", "request_id", "actor", "subject", "row_id", "session_id", "outcome"} {
			assert.Contains(t, raw, k, "audit event lacks %s: %s", k, line)
		}
		events = append(events, event{Event: get("event"), RequestID: get("request_id"), Actor: get("actor"), Subject: get("subject"),
			RowID: get("row_id"), SessionID: get("session_id"), Outcome: get("outcome"), ErrorCode: get("error_code"), Detail: get("detail")})
	}
	find := func(name, actor, outcome string) *event {
		for i := range events {
			e := &events[i]
			if e.Event == name && (actor == "" || e.Actor == actor) && e.Outcome == outcome {
				return e
			}
		}
		return nil
	}
	stored := find("token_stored", sub, "ok")
	require.NotNil(t, stored, "token_stored")
	assert.Equal(t, id, stored.RowID)
	assert.NotEmpty(t, stored.RequestID)
	assert.NotEmpty(t, stored.SessionID)
	issued := find("access_token_issued", "service:"+testenv.ServiceCallerClient, "ok")
	require.NotNil(t, issued, "access_token_issued by the service caller")
	assert.Equal(t, sub, issued.Subject)
	assert.True(t, find("token_refreshed", "", "ok") != nil || find("token_rotated", "", "ok") != nil, "token_refreshed or token_rotated")
	cached := find("access_token_issued", sub, "ok")
	require.NotNil(t, cached)
	assert.Equal(t, "cache", cached.Detail)
	denied := find("access_token_issued", "", "failed")
	require.NotNil(t, denied, "a refused call is audited")
	assert.Equal(t, "token_not_found", denied.ErrorCode)
	assert.NotNil(t, find("token_revoked", sub, "ok"), "token_revoked")
	assert.NotNil(t, find("token_deleted", sub, "ok"), "token_deleted")

	secrets := []string{alice.AccessToken, alice.RefreshToken, service, bob, access.Data(t)["access_token"].(string)}
	for i, s := range secrets {
		assert.False(t, strings.Contains(logs, s[len(s)-40:]), "token %d (or its signature) reached the log", i)
	}
	key := cfg.EncryptionKey.Reveal()
	for i := 0; i+16 <= len(key); i += 8 {
		assert.False(t, strings.Contains(logs, key[i:i+16]), "a piece of the vault key reached the log")
	}
	assert.False(t, regexp.MustCompile(`eyJ[A-Za-z0-9_-]{20,}\.`).MatchString(logs), "something JWT-shaped reached the log")
}
