package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

var valid = map[string]string{
	"DATABASE_URL":                            "postgres://u:p@127.0.0.1:5432/db",
	"KEYCLOAK_ISSUER":                         "http://127.0.0.1:8080",
	"KEYCLOAK_REALM":                          "auth-manager",
	"KEYCLOAK_CLIENT_ID":                      "auth-manager",
	"KEYCLOAK_CLIENT_SECRET":                  "client-secret-value",
	"KEYCLOAK_CONSENT_REDIRECT_URI":           "http://127.0.0.1:8000/v1/offline-token/callback",
	"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY": testKey,
	"STATE_TOKEN_SECRET":                      "0123456789abcdef0123456789abcdef-state",
}

// setEnv clears every variable the service reads, then sets vars.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "KEYCLOAK_") || strings.HasPrefix(k, "DATABASE_") || strings.HasPrefix(k, "AUTH_MANAGER_") ||
			strings.HasPrefix(k, "STATE_TOKEN_") || strings.HasPrefix(k, "HTTP_") || k == "PORT" || k == "LOG_LEVEL" {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

func with(overrides map[string]string, drop ...string) map[string]string {
	m := map[string]string{}
	for k, v := range valid {
		m[k] = v
	}
	for k, v := range overrides {
		m[k] = v
	}
	for _, k := range drop {
		delete(m, k)
	}
	return m
}

func TestLoadValid(t *testing.T) {
	setEnv(t, valid)
	c, err := Load(os.LookupEnv, "1.2.3")
	require.NoError(t, err)
	assert.Equal(t, "Auth Manager Service", c.AppName)
	assert.Equal(t, "1.2.3", c.AppVersion)
	assert.Equal(t, "0.0.0.0:8000", c.Addr())
	assert.Equal(t, 30, c.Database.MaxConns())
	assert.Equal(t, "http://127.0.0.1:8080/realms/auth-manager", c.Keycloak.IssuerURL())
	assert.Equal(t, testKey, c.EncryptionKey.Reveal())
	assert.Equal(t, []string{"http://localhost:3000"}, c.CORSOrigins)
	assert.Equal(t, "auth-manager-service", c.Auth.ServiceRole)
	assert.Equal(t, AuthModeIntrospect, c.Auth.Mode)
	assert.Equal(t, KeepAlive{Enabled: true, Interval: time.Hour, IdleThreshold: 24 * time.Hour,
		Retention: 7 * 24 * time.Hour}, c.KeepAlive)
	assert.Equal(t, AccessLog{Sample: 1}, c.AccessLog)
}

func TestTokenLimits(t *testing.T) {
	setEnv(t, valid)
	c, err := Load(os.LookupEnv, "dev")
	require.NoError(t, err)
	assert.Equal(t, 50, c.Tokens.MaxPerUser, "a cap no honest user reaches")
	assert.Empty(t, c.Tokens.Audiences, "every audience Keycloak allows")
	assert.Empty(t, c.Tokens.AudiencesByClient)

	setEnv(t, with(map[string]string{"AUTH_MANAGER_MAX_TOKENS_PER_USER": "7",
		"AUTH_MANAGER_EXCHANGE_AUDIENCES":           "orders-api, billing",
		"AUTH_MANAGER_EXCHANGE_AUDIENCES_BY_CLIENT": " jobs = orders-api  reports ; batch= ;https://x.example/app=billing"}))
	c, err = Load(os.LookupEnv, "dev")
	require.NoError(t, err)
	assert.Equal(t, 7, c.Tokens.MaxPerUser)
	assert.Equal(t, []string{"orders-api", "billing"}, c.Tokens.Audiences)
	assert.Equal(t, map[string][]string{"jobs": {"orders-api", "reports"}, "batch": {}, "https://x.example/app": {"billing"}},
		c.Tokens.AudiencesByClient, "an entry with no audiences allows none")
}

func TestLoadRequiredMissing(t *testing.T) {
	for _, key := range []string{"DATABASE_URL", "KEYCLOAK_ISSUER", "KEYCLOAK_REALM", "KEYCLOAK_CLIENT_ID",
		"KEYCLOAK_CLIENT_SECRET", "KEYCLOAK_CONSENT_REDIRECT_URI", "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", "STATE_TOKEN_SECRET"} {
		t.Run(key, func(t *testing.T) {
			setEnv(t, with(nil, key))
			_, err := Load(os.LookupEnv, "dev")
			require.Error(t, err)
			assert.Contains(t, err.Error(), key)
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	cases := []struct{ key, value string }{
		{"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", testKey[:63]},
		{"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", "zz" + testKey[2:]},
		{"AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS", testKey + ",abc"},
		{"STATE_TOKEN_SECRET", "short"},
		{"STATE_TOKEN_EXPIRY", "59"},
		{"STATE_TOKEN_EXPIRY", "3601"},
		{"STATE_TOKEN_EXPIRY", "ten"},
		{"PORT", "70000"},
		{"LOG_LEVEL", "LOUD"},
		{"DATABASE_URL", "mysql://x@y/z"},
		{"DATABASE_POOL_SIZE", "0"},
		{"KEYCLOAK_ISSUER", "not a url"},
		{"KEYCLOAK_REALM", "other"},
		{"KEYCLOAK_URL", "keycloak:8080"},
		{"KEYCLOAK_URL", "http://keycloak:8080/realms/other"},
		{"AUTH_MANAGER_AUTH_MODE", "magic"},
		{"AUTH_MANAGER_KEEPALIVE_INTERVAL", "0"},
		{"AUTH_MANAGER_KEEPALIVE_IDLE_THRESHOLD", "0"},
		{"AUTH_MANAGER_KEEPALIVE_RETENTION", "-1"},
		{"AUTH_MANAGER_KEEPALIVE_ENABLED", "maybe"},
		{"KEYCLOAK_REFRESH_TOKEN_ROTATION", "sometimes"},
		{"AUTH_MANAGER_ACCESS_LOG_SAMPLE", "1.5"},
		{"AUTH_MANAGER_ACCESS_LOG_SAMPLE", "-0.1"},
		{"AUTH_MANAGER_ACCESS_LOG_SAMPLE", "NaN"},
		{"AUTH_MANAGER_ACCESS_LOG_SAMPLE", "half"},
		{"AUTH_MANAGER_MAX_TOKENS_PER_USER", "0"},
		{"AUTH_MANAGER_MAX_TOKENS_PER_USER", "100001"},
		{"AUTH_MANAGER_EXCHANGE_AUDIENCES_BY_CLIENT", "no-equals-sign"},
		{"AUTH_MANAGER_EXCHANGE_AUDIENCES_BY_CLIENT", "a=x;a=y"},
		{"AUTH_MANAGER_EXCHANGE_AUDIENCES_BY_CLIENT", "=x"},
	}
	for _, tc := range cases {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			vars := with(map[string]string{tc.key: tc.value})
			if tc.key == "KEYCLOAK_REALM" {
				vars["KEYCLOAK_ISSUER"] = "http://127.0.0.1:8080/realms/auth-manager"
			}
			setEnv(t, vars)
			_, err := Load(os.LookupEnv, "dev")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.key)
			if strings.Contains(tc.key, "KEY") || strings.Contains(tc.key, "SECRET") {
				assert.NotContains(t, err.Error(), tc.value, "error must not echo a secret")
			}
		})
	}
}

func TestLoadAliasesAndForms(t *testing.T) {
	setEnv(t, with(map[string]string{
		"DATABASE_URL":          "postgresql+asyncpg://u:p@db:5432/auth?ssl=require",
		"KEYCLOAK_ISSUER":       "https://sso.example.com/auth/realms/auth-manager/",
		"KEYCLOAK_REDIRECT_URI": "https://svc.example.com/v1/offline-token/callback",
		"CORS_ORIGINS":          "https://a.example, https://b.example",
		"LOG_LEVEL":             "warning",
	}, "KEYCLOAK_CONSENT_REDIRECT_URI", "KEYCLOAK_REALM"))
	c, err := Load(os.LookupEnv, "dev")
	require.NoError(t, err)
	assert.Equal(t, "postgres://u:p@db:5432/auth?sslmode=require", c.Database.URL.Reveal())
	assert.Equal(t, "https://sso.example.com/auth", c.Keycloak.BaseURL)
	assert.Equal(t, "auth-manager", c.Keycloak.Realm)
	assert.Equal(t, "https://sso.example.com/auth/realms/auth-manager", c.Keycloak.IssuerURL())
	assert.Equal(t, "https://svc.example.com/v1/offline-token/callback", c.Keycloak.ConsentRedirectURI)
	assert.Equal(t, []string{"https://a.example", "https://b.example"}, c.CORSOrigins)
}

func TestDotEnvLoadedAndEnvironmentWins(t *testing.T) {
	setEnv(t, with(nil, "STATE_TOKEN_SECRET", "KEYCLOAK_CLIENT_ID"))
	t.Setenv("APP_NAME", "from-environment")
	path := filepath.Join(t.TempDir(), ".env")
	content := "# comment\nAPP_NAME=from-dotenv\nexport KEYCLOAK_CLIENT_ID='dotenv-client'\nSTATE_TOKEN_SECRET=\"abcdefghijklmnopqrstuvwxyz0123456789\"\n"
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	getenv, err := WithDotEnv(path, os.LookupEnv)
	require.NoError(t, err)
	c, err := Load(getenv, "dev")
	require.NoError(t, err)
	_, leaked := os.LookupEnv("KEYCLOAK_CLIENT_ID")
	assert.False(t, leaked, ".env must not be written into the process environment")
	assert.Equal(t, "from-environment", c.AppName)
	assert.Equal(t, "dotenv-client", c.Keycloak.ClientID)
	assert.Equal(t, "abcdefghijklmnopqrstuvwxyz0123456789", c.StateSecret.Reveal())
}

func TestSecretsNeverPrinted(t *testing.T) {
	setEnv(t, valid)
	c, err := Load(os.LookupEnv, "dev")
	require.NoError(t, err)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, c)
		assert.NotContains(t, out, "client-secret-value")
		assert.NotContains(t, out, "0123456789abcdef0123456789abcdef-state")
		assert.NotContains(t, out, c.EncryptionKey.Reveal())
		assert.NotContains(t, out, "u:p@")
	}
}

// TestEnvExampleMatchesConfig keeps .env.example honest: it names every variable the
// service reads, and nothing else.
func TestEnvExampleMatchesConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", ".env.example"))
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		if k, _, ok := strings.Cut(line, "="); ok && k == strings.ToUpper(k) && !strings.Contains(k, " ") {
			documented[k] = true
		}
	}
	read := map[string]bool{}
	typ := reflect.TypeOf(env{})
	for i := 0; i < typ.NumField(); i++ {
		read[typ.Field(i).Tag.Get("envconfig")] = true
	}
	for k := range read {
		assert.True(t, documented[k], "%s is read but not in .env.example", k)
	}
	for k := range documented {
		assert.True(t, read[k], "%s is in .env.example but not read", k)
	}
}

// TestPartialLoads: migrate needs only DATABASE_URL, rotate-keys only the keys; every
// other variable may be missing.
func TestPartialLoads(t *testing.T) {
	db, level, err := LoadDatabase(MapEnv(map[string]string{"DATABASE_URL": valid["DATABASE_URL"]}))
	require.NoError(t, err)
	assert.Equal(t, valid["DATABASE_URL"], db.URL.Reveal())
	assert.Equal(t, 30, db.MaxConns())
	assert.Equal(t, slog.LevelInfo, level)
	_, _, err = LoadDatabase(MapEnv(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DATABASE_URL")

	keys, err := LoadKeys(MapEnv(map[string]string{"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY": testKey,
		"AUTH_MANAGER_TOKEN_VAULT_REJECT_LEGACY": "true"}))
	require.NoError(t, err)
	assert.Equal(t, testKey, keys.EncryptionKey.Reveal())
	assert.True(t, keys.RejectLegacy)
	_, err = LoadKeys(MapEnv(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY")
}

// TestKeycloakURL: KEYCLOAK_URL moves where the service connects, never the issuer.
func TestKeycloakURL(t *testing.T) {
	c, err := Load(MapEnv(with(nil)), "dev")
	require.NoError(t, err)
	assert.Equal(t, c.Keycloak.IssuerURL(), c.Keycloak.ConnectURL(), "unset: connect where the issuer is")

	for _, v := range []string{"http://keycloak:8080/", "http://keycloak:8080/realms/auth-manager"} {
		c, err := Load(MapEnv(with(map[string]string{"KEYCLOAK_URL": v, "KEYCLOAK_ISSUER": "https://sso.example.com"})), "dev")
		require.NoError(t, err, v)
		assert.Equal(t, "https://sso.example.com/realms/auth-manager", c.Keycloak.IssuerURL())
		assert.Equal(t, "http://keycloak:8080", c.Keycloak.ConnectBase())
		assert.Equal(t, "http://keycloak:8080/realms/auth-manager", c.Keycloak.ConnectURL())
	}
}
