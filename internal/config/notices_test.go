package config

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNotices: plain http:// to a host that is not loopback is a warning for each
// Keycloak and redirect URL; empty client lists are explained at INFO.
func TestNotices(t *testing.T) {
	allowed := map[string]string{"AUTH_MANAGER_ALLOWED_CLIENTS": "app", "AUTH_MANAGER_SERVICE_CLIENTS": "svc"}
	merge := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range allowed {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want map[string]slog.Level // variable → level
	}{
		{"loopback http and restricted clients", merge(nil), map[string]slog.Level{}},
		{"localhost", merge(map[string]string{"KEYCLOAK_ISSUER": "http://localhost:8080",
			"KEYCLOAK_CONSENT_REDIRECT_URI": "http://[::1]:8000/v1/offline-token/callback"}), map[string]slog.Level{}},
		{"https everywhere", merge(map[string]string{"KEYCLOAK_ISSUER": "https://sso.example.com",
			"KEYCLOAK_CONSENT_REDIRECT_URI": "https://svc.example.com/cb"}), map[string]slog.Level{}},
		{"plain http to other hosts", merge(map[string]string{
			"KEYCLOAK_ISSUER":                     "http://sso.example.com",
			"KEYCLOAK_URL":                        "http://keycloak:8080",
			"KEYCLOAK_CONSENT_REDIRECT_URI":       "http://10.1.2.3:8000/v1/offline-token/callback",
			"KEYCLOAK_AFTER_CONSENT_REDIRECT_URI": "HTTP://app.example.com/done",
		}), map[string]slog.Level{"KEYCLOAK_ISSUER": slog.LevelWarn, "KEYCLOAK_URL": slog.LevelWarn,
			"KEYCLOAK_CONSENT_REDIRECT_URI": slog.LevelWarn, "KEYCLOAK_AFTER_CONSENT_REDIRECT_URI": slog.LevelWarn}},
		{"empty client lists", nil, map[string]slog.Level{"AUTH_MANAGER_ALLOWED_CLIENTS": slog.LevelInfo,
			"AUTH_MANAGER_SERVICE_CLIENTS": slog.LevelInfo}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(MapEnv(with(tc.env)), "dev")
			require.NoError(t, err)
			got := map[string]slog.Level{}
			for _, n := range c.Notices() {
				got[n.Var] = n.Level
				assert.NotEmpty(t, n.Message)
			}
			assert.Equal(t, tc.want, got)
		})
	}
	c, err := Load(MapEnv(with(nil)), "dev")
	require.NoError(t, err)
	for _, n := range c.Notices() {
		if n.Var == "AUTH_MANAGER_ALLOWED_CLIENTS" {
			assert.Contains(t, n.Message, "every client of the realm may call")
		}
	}
}
