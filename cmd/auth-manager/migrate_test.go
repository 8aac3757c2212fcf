package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestMigrateNeedsOnlyDatabaseURL runs `migrate up` and `migrate status` with nothing
// but DATABASE_URL in the environment (no Keycloak secret, state secret or vault key),
// as a migration job in a deployment has.
func TestMigrateNeedsOnlyDatabaseURL(t *testing.T) {
	url := testenv.Database(t)
	t.Chdir(t.TempDir()) // no .env there
	env := config.MapEnv(map[string]string{"DATABASE_URL": url})
	ctx := context.Background()

	var out, errs bytes.Buffer
	require.NoError(t, run(ctx, []string{"migrate", "up"}, env, &out, &errs), errs.String())
	assert.Regexp(t, `applied [1-9]\d* migration\(s\); schema version [1-9]`, out.String())

	out.Reset()
	require.NoError(t, run(ctx, []string{"migrate", "status"}, env, &out, &errs), errs.String())
	assert.Contains(t, out.String(), "applied")
	assert.Contains(t, out.String(), "00001_auth_vault.sql")
	assert.NotContains(t, out.String(), "pending")

	out.Reset()
	err := run(ctx, []string{"serve"}, env, &out, &errs)
	require.Error(t, err, "serve still needs the whole configuration")
	assert.Contains(t, err.Error(), "required but not set")
}

// TestRotateKeysNeedsOnlyDatabaseAndKeys: rotate-keys runs with DATABASE_URL and the
// vault key alone.
func TestRotateKeysNeedsOnlyDatabaseAndKeys(t *testing.T) {
	url := testenv.Database(t)
	t.Chdir(t.TempDir())
	ctx := context.Background()
	var out, errs bytes.Buffer
	env := config.MapEnv(map[string]string{"DATABASE_URL": url})
	require.NoError(t, run(ctx, []string{"migrate", "up"}, env, &out, &errs), errs.String())
	out.Reset()
	env = config.MapEnv(map[string]string{"DATABASE_URL": url,
		"AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY": testenv.Config(t).EncryptionKey.Reveal()})
	require.NoError(t, run(ctx, []string{"rotate-keys", "--dry-run"}, env, &out, &errs), errs.String())
	assert.Contains(t, out.String(), "dry run: 0 row(s)")
	assert.Contains(t, out.String(), "legacy rows (no integrity tag): 0 remain, 0 fail the claims check")
}
