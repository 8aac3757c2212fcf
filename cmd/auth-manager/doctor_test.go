package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/doctor"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// doctorSetup is a running service on a fresh, migrated database in a realm of the
// test's own (whose back-channel logout URL names the service), holding one stored
// refresh token, and the environment that describes it.
func doctorSetup(t *testing.T, opt testenv.RealmOptions, logoutURL bool) map[string]string {
	t.Helper()
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	svc := testenv.StartService(t, cfg)
	if logoutURL {
		opt.BackchannelURL = svc.URL + "/v1/backchannel-logout"
	}
	realm.Create(opt)
	alice := realm.Login(t, testenv.Alice, "")
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", alice.AccessToken, map[string]any{"refresh_token": alice.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	env := map[string]string{}
	for _, kv := range testenv.ProcessEnv(cfg, 8000) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// runDoctorJSON runs `auth-manager doctor --json` with env and returns its report.
func runDoctorJSON(t *testing.T, env map[string]string) (doctor.Report, error) {
	t.Helper()
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"doctor", "--json"}, config.MapEnv(env), &out, &errs)
	var r doctor.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &r), "stdout: %s\nstderr: %s", out.String(), errs.String())
	return r, err
}

// failed returns the names of the failed checks, in order.
func failed(r doctor.Report) []string {
	var out []string
	for _, c := range r.Failed() {
		out = append(out, c.Check)
	}
	return out
}

func check(t *testing.T, r doctor.Report, name string) doctor.Result {
	t.Helper()
	for _, c := range r.Checks {
		if c.Check == name {
			return c
		}
	}
	t.Fatalf("no check %s in the report", name)
	return doctor.Result{}
}

// TestDoctorHealthy: a correctly set-up service passes every check, in the documented
// order, and the text report has one ✓ line per check.
func TestDoctorHealthy(t *testing.T) {
	t.Parallel()
	env := doctorSetup(t, testenv.RealmOptions{}, true)
	r, err := runDoctorJSON(t, env)
	require.NoError(t, err, "exit status; failed: %+v", r.Failed())
	assert.True(t, r.OK)
	assert.Empty(t, failed(r))
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Check)
		assert.False(t, c.Skipped, c.Check)
	}
	assert.Equal(t, []string{doctor.CheckConfig, doctor.CheckPostgres, doctor.CheckMigrations, doctor.CheckListen,
		doctor.CheckKeycloak, doctor.CheckIssuer, doctor.CheckClient, doctor.CheckRoles, doctor.CheckLogoutURL,
		doctor.CheckOfflineIdle, doctor.CheckRotation, doctor.CheckVaultKey, doctor.CheckWebhooks}, names)
	assert.Contains(t, check(t, r, doctor.CheckLogoutURL).Detail, "answers as auth-manager")
	assert.Contains(t, check(t, r, doctor.CheckVaultKey).Detail, "1 sampled row(s) decrypt")

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"doctor"}, config.MapEnv(env), &out, &bytes.Buffer{}))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, len(names)+1)
	for i, n := range names {
		assert.True(t, strings.HasPrefix(lines[i], "✓ "+n), lines[i])
	}
	assert.Equal(t, "all checks passed", lines[len(names)])
}

// TestDoctorFindsMisconfiguration: each deliberately broken setup fails, naming the
// check at fault and its fix, and doctor exits non-zero.
func TestDoctorFindsMisconfiguration(t *testing.T) {
	t.Parallel()
	t.Run("wrong client secret, wrong vault key", func(t *testing.T) {
		t.Parallel()
		env := doctorSetup(t, testenv.RealmOptions{}, true)
		env["KEYCLOAK_CLIENT_SECRET"] = "not-the-secret"
		r, err := runDoctorJSON(t, env)
		require.Error(t, err)
		assert.Equal(t, []string{doctor.CheckClient}, failed(r))
		c := check(t, r, doctor.CheckClient)
		assert.Contains(t, c.Detail, "refused the client credentials")
		assert.Contains(t, c.Fix, "KEYCLOAK_CLIENT_SECRET")
		assert.NotContains(t, c.Detail+c.Fix, "not-the-secret", "no secret in the report")
		assert.True(t, check(t, r, doctor.CheckRoles).Skipped)

		env["KEYCLOAK_CLIENT_SECRET"] = testenv.ServiceClientSecret
		env["AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY"] = strings.Repeat("ab", 32)
		r, err = runDoctorJSON(t, env)
		require.Error(t, err)
		assert.Equal(t, []string{doctor.CheckVaultKey}, failed(r))
		assert.Contains(t, check(t, r, doctor.CheckVaultKey).Detail, "1 of 1 sampled row(s) do not decrypt")
	})
	t.Run("issuer Keycloak does not name", func(t *testing.T) {
		t.Parallel()
		env := doctorSetup(t, testenv.RealmOptions{}, true)
		kc := env["KEYCLOAK_ISSUER"]
		env["KEYCLOAK_ISSUER"], env["KEYCLOAK_URL"] = strings.Replace(kc, "127.0.0.1", "localhost", 1), kc
		r, err := runDoctorJSON(t, env)
		require.Error(t, err)
		assert.Equal(t, []string{doctor.CheckIssuer}, failed(r), "everything else works through KEYCLOAK_URL")
		c := check(t, r, doctor.CheckIssuer)
		assert.Contains(t, c.Detail, "names the issuer "+kc+"/realms/")
		assert.Contains(t, c.Detail, "tokens will be refused")
		assert.Contains(t, c.Fix, "set KEYCLOAK_ISSUER to the issuer tokens carry ("+kc+")")
	})
	t.Run("service account without roles", func(t *testing.T) {
		t.Parallel()
		env := doctorSetup(t, testenv.RealmOptions{NoServiceAccountRoles: true}, true)
		r, err := runDoctorJSON(t, env)
		require.Error(t, err)
		roles := check(t, r, doctor.CheckRoles)
		assert.False(t, roles.OK)
		assert.Contains(t, roles.Detail, "lacks view-users, manage-users, view-clients")
		// Without view-clients and view-realm the realm's settings cannot be read either.
		assert.Equal(t, []string{doctor.CheckRoles, doctor.CheckLogoutURL, doctor.CheckOfflineIdle}, failed(r))
	})
	t.Run("realm without logout URL, rotation with max reuse 0, short offline idle", func(t *testing.T) {
		t.Parallel()
		env := doctorSetup(t, testenv.RealmOptions{Rotation: true, OfflineIdleTimeout: 3600e9}, false)
		r, err := runDoctorJSON(t, env)
		require.Error(t, err)
		assert.Equal(t, []string{doctor.CheckLogoutURL, doctor.CheckOfflineIdle, doctor.CheckRotation}, failed(r))
		assert.Contains(t, check(t, r, doctor.CheckLogoutURL).Detail, "sends no back-channel logout")
		assert.Contains(t, check(t, r, doctor.CheckOfflineIdle).Detail, "idle for 1h0m0s")
		assert.Contains(t, check(t, r, doctor.CheckRotation).Detail, "max reuse 0")
		assert.Contains(t, check(t, r, doctor.CheckRotation).Fix, "Refresh token max reuse to 1")
	})
	t.Run("a webhook subscriber that does not answer", func(t *testing.T) {
		t.Parallel()
		env := doctorSetup(t, testenv.RealmOptions{}, true)
		up, down := testenv.StartReceiver(t), testenv.StartReceiver(t)
		down.Down()
		hooks, err := json.Marshal([]map[string]any{
			{"name": "up", "url": up.URL, "secrets": []string{testenv.WebhookSecret}, "allow_private_network": true},
			{"name": "down", "url": down.URL, "secrets": []string{testenv.WebhookSecret}, "allow_private_network": true}})
		require.NoError(t, err)
		env["AUTH_MANAGER_WEBHOOKS"] = string(hooks)
		r, err := runDoctorJSON(t, env)
		require.Error(t, err)
		assert.Equal(t, []string{doctor.CheckWebhooks}, failed(r))
		c := check(t, r, doctor.CheckWebhooks)
		u, err := url.Parse(down.URL)
		require.NoError(t, err)
		assert.Contains(t, c.Detail, "down (http://"+u.Host+")")
		assert.NotContains(t, c.Detail, u.Path, "no URL path, which may hold the receiver's credential")
		assert.NotContains(t, c.Detail, "up (")
		assert.NotContains(t, c.Detail, "whsec_", "no secret in the report")
		assert.Equal(t, 1, up.Probes(), "the subscriber that answers got one signed test message")
	})
	t.Run("configuration that does not load", func(t *testing.T) {
		t.Parallel()
		r, err := runDoctorJSON(t, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x"})
		require.Error(t, err)
		assert.Equal(t, []string{doctor.CheckConfig}, failed(r))
		assert.Contains(t, check(t, r, doctor.CheckConfig).Detail, "required but not set")
		assert.True(t, check(t, r, doctor.CheckPostgres).Skipped)
	})
}

// TestDoctorAtStart: serve runs the checks once at start, exports each as
// auth_manager_doctor_check and logs each failure once as WARN.
func TestDoctorAtStart(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	realm.Create(testenv.RealmOptions{}) // no back-channel logout URL
	p := testenv.StartProcess(t, realm.ServiceConfig(t))
	metric := func(check, ok string) string {
		return `auth_manager_doctor_check{check="` + check + `",ok="` + ok + `"} 1`
	}
	var body string
	require.Eventually(t, func() bool {
		body = string(p.Do(t, http.MethodGet, "/metrics", "", nil).Body)
		return strings.Contains(body, metric(doctor.CheckVaultKey, "true"))
	}, 30*time.Second, 200*time.Millisecond, "the last check's metric never appeared")
	assert.Contains(t, body, metric(doctor.CheckLogoutURL, "false"))
	for _, c := range []string{doctor.CheckPostgres, doctor.CheckMigrations, doctor.CheckListen, doctor.CheckKeycloak,
		doctor.CheckIssuer, doctor.CheckClient, doctor.CheckRoles, doctor.CheckOfflineIdle, doctor.CheckRotation} {
		assert.Contains(t, body, metric(c, "true"))
	}
	logs := p.Logs.String()
	assert.Equal(t, 1, strings.Count(logs, `"msg":"doctor: check failed"`), logs)
	assert.Contains(t, logs, `"check":"backchannel_logout"`)
}
