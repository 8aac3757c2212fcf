package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/migrations"
)

// TestMigrateDownNeedsYes: `migrate down` alone shows which migration it would roll
// back and the SQL it would run, changes nothing and exits 2; with --yes (before or
// after "down") it rolls back that one migration.
func TestMigrateDownNeedsYes(t *testing.T) {
	url := testenv.Database(t)
	t.Chdir(t.TempDir())
	env := config.MapEnv(map[string]string{"DATABASE_URL": url})
	ctx := context.Background()
	files, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	slices.Sort(files)
	newest, previous := files[len(files)-1], files[len(files)-2]

	var out, errs bytes.Buffer
	require.NoError(t, run(ctx, []string{"migrate", "up"}, env, &out, &errs), errs.String())
	status := func() string {
		var s bytes.Buffer
		require.NoError(t, run(ctx, []string{"migrate", "status"}, env, &s, &errs), errs.String())
		return s.String()
	}
	before := status()
	require.NotContains(t, before, "pending")

	out.Reset()
	err = run(ctx, []string{"migrate", "down"}, env, &out, &errs)
	var usage usageError
	require.True(t, errors.As(err, &usage), "refused as a usage error: %v", err)
	assert.Contains(t, err.Error(), "--yes")
	assert.Contains(t, out.String(), "migrate down would roll back "+newest)
	assert.Contains(t, out.String(), "DROP ", "the SQL it would run")
	assert.NotContains(t, out.String(), "+goose")
	assert.Equal(t, before, status(), "nothing rolled back")

	for _, args := range [][]string{{"migrate", "down", "--yes"}, {"migrate", "--yes", "down"}} {
		out.Reset()
		require.NoError(t, run(ctx, args, env, &out, &errs), errs.String())
	}
	after := status()
	assert.Regexp(t, `pending\s+`+strings.ReplaceAll(newest, ".", `\.`), after)
	assert.Regexp(t, `pending\s+`+strings.ReplaceAll(previous, ".", `\.`), after)
	assert.Contains(t, out.String(), "rolled back "+previous)
}

// TestDotEnvIsNamedInTheLog: a ./.env in the working directory is announced at INFO
// (its path and size), and at DEBUG its variables are listed by name, used or not:
// never a value.
func TestDotEnvIsNamedInTheLog(t *testing.T) {
	url := testenv.Database(t)
	dir := t.TempDir()
	t.Chdir(dir)
	content := "DATABASE_URL=" + url + "\nDEBUG=true\nDATABASE_POOL_SIZE=3\nKEYCLOAK_CLIENT_SECRET=never-logged-secret\n"
	require.NoError(t, os.WriteFile(".env", []byte(content), 0o600))
	env := config.MapEnv(map[string]string{"DATABASE_POOL_SIZE": "4"})

	var out, errs bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"migrate", "up"}, env, &out, &errs), errs.String())
	var info, debug map[string]any
	for _, l := range jsonLines(t, errs.String()) {
		switch l["msg"] {
		case "configuration read from .env as well as the environment":
			info = l
		case ".env variables":
			debug = l
		}
	}
	require.NotNil(t, info, errs.String())
	assert.Equal(t, "INFO", info["level"])
	abs, err := filepath.EvalSymlinks(filepath.Join(dir, ".env"))
	require.NoError(t, err)
	got, err := filepath.EvalSymlinks(info["path"].(string))
	require.NoError(t, err)
	assert.Equal(t, abs, got)
	assert.EqualValues(t, 4, info["variables"])
	require.NotNil(t, debug, "DEBUG=true from .env turns the DEBUG line on: %s", errs.String())
	assert.Equal(t, []any{"DATABASE_URL", "DEBUG"}, debug["used"])
	assert.Equal(t, []any{"DATABASE_POOL_SIZE", "KEYCLOAK_CLIENT_SECRET"}, debug["not_used"], "overridden, and not read by migrate")
	assert.NotContains(t, errs.String(), "never-logged-secret")
	assert.NotContains(t, errs.String(), strings.TrimPrefix(url, "postgres://"))
}
