package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEverySecretHasAFileVariant: each Secret variable NAME has NAME_FILE beside it.
func TestEverySecretHasAFileVariant(t *testing.T) {
	fields := envFields()
	n := 0
	for key, f := range fields {
		if f.Type != secretType {
			continue
		}
		n++
		file, ok := fields[key+fileSuffix]
		if assert.True(t, ok, "%s has no %s%s", key, key, fileSuffix) {
			assert.Equal(t, "string", file.Type.Name(), "%s%s is a path", key, fileSuffix)
		}
	}
	assert.GreaterOrEqual(t, n, 5)
}

// TestSecretsFromFiles: NAME_FILE reads NAME from a file (trailing newline dropped,
// inner whitespace kept); NAME and NAME_FILE together, or an unreadable file, are
// refused naming the variable and never the value.
func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	secretKey := "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
	cases := []struct {
		key, content string
		got          func(Config) string
		want         string
	}{
		{"DATABASE_URL", "postgres://u:p%20w@db:5432/x\n", func(c Config) string { return c.Database.URL.Reveal() }, "postgres://u:p%20w@db:5432/x"},
		{"KEYCLOAK_CLIENT_SECRET", "s3cret with space\r\n", func(c Config) string { return c.Keycloak.ClientSecret.Reveal() }, "s3cret with space"},
		{"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", secretKey + "\n\n", func(c Config) string { return c.EncryptionKey.Reveal() }, secretKey},
		{"AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS", testKey + "," + secretKey + "\n", func(c Config) string {
			return c.PreviousKeys[0].Reveal() + "," + c.PreviousKeys[1].Reveal()
		}, testKey + "," + secretKey},
		{"STATE_TOKEN_SECRET", "a-state-secret-of-more-than-32-characters", func(c Config) string { return c.StateSecret.Reveal() }, "a-state-secret-of-more-than-32-characters"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			path := write(tc.key, tc.content)
			c, err := Load(MapEnv(with(map[string]string{tc.key + "_FILE": path}, tc.key)), "dev")
			require.NoError(t, err)
			assert.Equal(t, tc.want, tc.got(c))

			_, err = Load(MapEnv(with(map[string]string{tc.key + "_FILE": path, tc.key: "inline-value"})), "dev")
			require.Error(t, err, "both set")
			p := Errors(err)
			require.Len(t, p, 1, err.Error())
			assert.Equal(t, tc.key, p[0].Var)
			assert.Contains(t, p[0].Problem, "not both")
			assert.NotContains(t, err.Error(), "inline-value")

			_, err = Load(MapEnv(with(map[string]string{tc.key + "_FILE": filepath.Join(dir, "missing")}, tc.key)), "dev")
			require.Error(t, err, "unreadable file")
			p = Errors(err)
			require.Len(t, p, 1, err.Error())
			assert.Equal(t, tc.key+"_FILE", p[0].Var)
			assert.Contains(t, p[0].Problem, "no such file")
		})
	}

	t.Run("a file's content is checked like the variable's", func(t *testing.T) {
		path := write("short-key", "abc\n")
		_, err := Load(MapEnv(with(map[string]string{"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY_FILE": path},
			"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY")), "dev")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY: must be 64 hex characters")
	})
	t.Run("required hint names the file variant", func(t *testing.T) {
		_, err := Load(MapEnv(with(nil, "STATE_TOKEN_SECRET")), "dev")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "STATE_TOKEN_SECRET: required but not set (or set STATE_TOKEN_SECRET_FILE")
	})
	t.Run("partial loads read files too", func(t *testing.T) {
		db, _, err := LoadDatabase(MapEnv(map[string]string{"DATABASE_URL_FILE": write("db", valid["DATABASE_URL"]+"\n")}))
		require.NoError(t, err)
		assert.Equal(t, valid["DATABASE_URL"], db.URL.Reveal())
		keys, err := LoadKeys(MapEnv(map[string]string{"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY_FILE": write("key", testKey)}))
		require.NoError(t, err)
		assert.Equal(t, testKey, keys.EncryptionKey.Reveal())
	})
}
