package devstack_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/devstack"
)

// devEnv is deploy/dev.env's text: a file config.Load accepts.
func devEnv(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "dev.env"))
	require.NoError(t, err)
	return string(b)
}

func TestLoadReadsTheFileUnderTheEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.env")
	require.NoError(t, os.WriteFile(path, []byte(devEnv(t)+"\nexport DEVSTACK_TEST_A='two words'\nKEYCLOAK_REALM=file-realm\n"), 0o600))
	getenv := config.MapEnv(map[string]string{"KEYCLOAK_REALM": "env-realm"})

	s, err := devstack.Load(path, getenv)
	require.NoError(t, err)
	assert.Equal(t, "env-realm", s.Config.Keycloak.Realm, "the environment wins over the file")
	assert.Equal(t, "http://127.0.0.1:8080", s.Config.Keycloak.BaseURL)
	assert.Equal(t, "postgres://auth_manager:auth_manager@127.0.0.1:5432/auth_manager?sslmode=disable", s.Config.Database.URL.Reveal())

	env := s.Environ(map[string]string{"PORT": "9999"})
	assert.Contains(t, env, "DEVSTACK_TEST_A=two words", "quotes and export are the service's .env syntax")
	assert.Contains(t, env, "KEYCLOAK_REALM=env-realm", "a child sees the value the service would read")
	assert.NotContains(t, env, "KEYCLOAK_REALM=file-realm")
	assert.Equal(t, "PORT=9999", env[len(env)-1], "overrides come last, so they win")
	assert.Less(t, slices.Index(env, "PORT=8000"), slices.Index(env, "PORT=9999"))
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	_, err := devstack.Load(filepath.Join(dir, "missing.env"), os.LookupEnv)
	assert.ErrorContains(t, err, "does not exist")

	bad := filepath.Join(dir, "bad.env")
	require.NoError(t, os.WriteFile(bad, []byte("SECRET_LOOKING_VALUE\n"), 0o600))
	_, err = devstack.Load(bad, os.LookupEnv)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 1")
	assert.NotContains(t, err.Error(), "SECRET_LOOKING_VALUE", "a malformed line is never echoed")

	incomplete := filepath.Join(dir, "incomplete.env")
	require.NoError(t, os.WriteFile(incomplete, []byte("PORT=8000\n"), 0o600))
	_, err = devstack.Load(incomplete, config.MapEnv(nil))
	assert.ErrorContains(t, err, "KEYCLOAK_ISSUER", "the service's configuration must load")
}
