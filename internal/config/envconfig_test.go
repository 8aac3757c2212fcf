package config

import (
	"os"
	"reflect"
	"testing"

	"github.com/kelseyhightower/envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The project's fixed choice for reading the environment is envconfig, and its tags
// (`envconfig`, `default`, `required`) declare every variable in env. envconfig v1.4.0
// can only read the process environment, while run takes its environment as an
// argument (getenv, with .env layered in front), so Load decodes the same tags with
// process. This test keeps process honest: for every field of env, over the same
// variables, envconfig.Process (reading the real process environment) and process
// (reading a map) must produce the same value, and must agree on which inputs are
// errors.
func TestProcessAgreesWithEnvconfig(t *testing.T) {
	cases := map[string]map[string]string{
		"valid":            with(nil),
		"defaults only":    keep(valid, "DATABASE_URL", "KEYCLOAK_ISSUER", "KEYCLOAK_CLIENT_ID", "KEYCLOAK_CLIENT_SECRET", "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", "STATE_TOKEN_SECRET"),
		"empty is set":     with(map[string]string{"CORS_ORIGINS": "", "APP_NAME": ""}),
		"required missing": with(nil, "DATABASE_URL"),
		"bad int":          with(map[string]string{"PORT": "eighty"}),
		"bad bool":         with(map[string]string{"DEBUG": "maybe"}),
		"every field set":  with(map[string]string{"DEBUG": "true", "PORT": "8001", "HTTP_MAX_BODY_BYTES": "1024", "AUTH_MANAGER_ALLOWED_CLIENTS": "a,b"}),
		"duration units":   with(map[string]string{"HTTP_READ_TIMEOUT": "15s", "AUTH_MANAGER_KEEPALIVE_INTERVAL": "1h", "SHUTDOWN_TIMEOUT": "20", "HTTP_WRITE_TIMEOUT": ""}),
		"bad duration":     with(map[string]string{"KEYCLOAK_TIMEOUT": "10 seconds"}),
	}
	for name, vars := range cases {
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range vars {
				t.Setenv(k, v)
			}
			var want, got env
			wantErr := envconfig.Process("", &want)
			gotErr := process(MapEnv(vars), &got, all)
			if wantErr != nil {
				assert.Error(t, gotErr, "envconfig refuses this input: %v", wantErr)
				return
			}
			require.NoError(t, gotErr)
			assert.Equal(t, want, got)
		})
	}
}

// clearEnv unsets, for this test, every variable env declares, so that the machine's
// environment cannot leak into envconfig's reading.
func clearEnv(t *testing.T) {
	t.Helper()
	typ := reflect.TypeOf(env{})
	for i := range typ.NumField() {
		key := typ.Field(i).Tag.Get("envconfig")
		if _, ok := os.LookupEnv(key); ok {
			t.Setenv(key, "") // registers the restore
			require.NoError(t, os.Unsetenv(key))
		}
	}
}

func keep(vars map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k] = vars[k]
	}
	return out
}
