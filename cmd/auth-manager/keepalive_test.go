package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestKeepAliveCommand runs `auth-manager keepalive` against a fresh database holding
// one row Keycloak refused an hour ago: a dry run reports it, a real run deletes it.
func TestKeepAliveCommand(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	env := map[string]string{}
	for _, kv := range testenv.ProcessEnv(cfg, 8000) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env["AUTH_MANAGER_KEEPALIVE_RETENTION"] = "60"
	env["AUTH_MANAGER_KEEPALIVE_IDLE_THRESHOLD"] = "86400"
	env["AUTH_MANAGER_KEEPALIVE_DRY_RUN"] = "false"
	ctx := context.Background()
	run := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := run(ctx, args, config.MapEnv(env), &out, &errs)
		return out.String(), err
	}
	_, err := run("migrate", "up")
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, cfg.Database.URL.Reveal())
	require.NoError(t, err)
	defer conn.Close(ctx)
	id := uuid.NewString()
	_, err = conn.Exec(ctx, `INSERT INTO auth_vault (id, user_id, token_type, encrypted_token, iv, token_hash, session_state_id,
		status, last_error, updated_at) VALUES ($1, $2, 'OFFLINE', '00', '00', 'h', 's', 'invalid', 'invalid_grant: Offline user session not found',
		now() - interval '1 hour')`, id, uuid.NewString())
	require.NoError(t, err)
	count := func() (n int) {
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM auth_vault WHERE id = $1`, id).Scan(&n))
		return n
	}

	out, err := run("keepalive", "--dry-run")
	require.NoError(t, err)
	assert.Contains(t, out, "dry run: 0 idle offline token(s) would be refreshed, 1 invalid row(s) past retention would be deleted")
	assert.Equal(t, 1, count())

	out, err = run("keepalive")
	require.NoError(t, err)
	assert.Contains(t, out, "1 invalid row(s) deleted")
	assert.Equal(t, 0, count())

	_, err = run("keepalive", "--bogus")
	assert.Error(t, err)
}
