package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

func TestServiceEndpoints(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	cfg.AppVersion = "9.9.9"
	svc := testenv.StartService(t, cfg)

	t.Run("health", func(t *testing.T) {
		resp := svc.Do(t, http.MethodGet, "/health", "", nil)
		require.Equal(t, http.StatusOK, resp.Status)
		assert.JSONEq(t, `"OK"`, string(resp.Body))
	})
	t.Run("ready", func(t *testing.T) {
		resp := svc.Do(t, http.MethodGet, "/health/ready", "", nil)
		require.Equal(t, http.StatusOK, resp.Status)
		assert.JSONEq(t, `{"data":{"app_name":"Auth Manager Service","app_version":"9.9.9","database_status":"connected"}}`, string(resp.Body))
	})
	t.Run("version", func(t *testing.T) {
		resp := svc.Do(t, http.MethodGet, "/version", "", nil)
		require.Equal(t, http.StatusOK, resp.Status)
		d := resp.Data(t)
		assert.Equal(t, "9.9.9", d["app_version"])
		assert.True(t, strings.HasPrefix(d["database_version"].(string), "PostgreSQL "), d["database_version"])
	})
	t.Run("request id echoed when sane, replaced when not", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, svc.URL+"/health", nil)
		req.Header.Set("X-Request-ID", "abc-123")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "abc-123", resp.Header.Get("X-Request-ID"))

		req.Header.Set("X-Request-ID", "bad id\twith spaces<script>")
		resp, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Regexp(t, `^[0-9a-f]{32}$`, resp.Header.Get("X-Request-ID"))
	})
	t.Run("unknown route is an envelope", func(t *testing.T) {
		resp := svc.Do(t, http.MethodGet, "/nope", "", nil)
		require.Equal(t, http.StatusNotFound, resp.Status)
		assert.Equal(t, "not_found", resp.JSON(t)["code"])
	})
	t.Run("access log has no authorization header", func(t *testing.T) {
		svc.Do(t, http.MethodGet, "/v1/validate-token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2VjcmV0LXNpZ25hdHVyZQ", nil)
		logs := svc.Logs.String()
		assert.Contains(t, logs, `"route":"/v1/validate-token"`)
		assert.NotContains(t, logs, "c2VjcmV0LXNpZ25hdHVyZQ")
	})
}

func TestCORS(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	cfg.CORSOrigins = []string{"http://app.example"}
	cfg.CORSAllowCredentials = true
	svc := testenv.StartService(t, cfg)

	req, _ := http.NewRequest(http.MethodOptions, svc.URL+"/v1/validate-token", nil)
	req.Header.Set("Origin", "http://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "http://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	assert.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "Authorization")

	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

// TestReadyFollowsTheDatabase stops a throw-away PostgreSQL under a running service:
// readiness turns 503 with the contract's details, and comes back without a restart.
func TestReadyFollowsTheDatabase(t *testing.T) {
	pg := testenv.ThrowawayPostgres(t)
	cfg := testenv.Config(t)
	cfg.Database.URL = config.Secret(pg.URL)
	cfg.Database.PoolTimeout = 2 * time.Second
	svc := testenv.StartService(t, cfg)

	ready := func() testenv.Response { return svc.Do(t, http.MethodGet, "/health/ready", "", nil) }
	require.Equal(t, http.StatusOK, ready().Status)

	pg.Stop()
	resp := ready()
	require.Equal(t, http.StatusServiceUnavailable, resp.Status, string(resp.Body))
	body := resp.JSON(t)
	assert.Equal(t, "service_unavailable", body["code"])
	assert.Equal(t, map[string]any{"database": "disconnected"}, body["details"])
	assert.Equal(t, http.StatusOK, svc.Do(t, http.MethodGet, "/health", "", nil).Status, "liveness does not follow the database")

	pg.Start()
	require.Eventually(t, func() bool { return ready().Status == http.StatusOK }, 15*time.Second, 200*time.Millisecond)
}
