package store_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{URL: url, MaxConns: 4}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return st
}

func migrateUp(t *testing.T, st *store.Store) {
	t.Helper()
	m, err := st.NewMigrator()
	require.NoError(t, err)
	defer m.Close()
	_, err = m.Up(context.Background())
	require.NoError(t, err)
}

// schema describes the auth_vault table as PostgreSQL sees it, for comparisons.
func schema(t *testing.T, st *store.Store) string {
	t.Helper()
	const q = `
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
  SELECT 'column ' || column_name || ' ' || udt_name || ' null=' || is_nullable AS line
    FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'auth_vault'
  UNION ALL
  SELECT 'index ' || indexname || ' ' || regexp_replace(indexdef, '^.* USING ', '')
    FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'auth_vault'
  UNION ALL
  SELECT 'enum ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
    FROM pg_enum e JOIN pg_type ty ON ty.oid = e.enumtypid WHERE ty.typname = 'auth_token_type'
) s`
	var out *string
	require.NoError(t, st.Pool().QueryRow(context.Background(), q).Scan(&out))
	if out == nil {
		return ""
	}
	return *out
}

func TestMigrateFreshDatabase(t *testing.T) {
	st := openStore(t, testenv.Database(t))
	migrateUp(t, st)
	s := schema(t, st)
	for _, want := range []string{
		"column id uuid null=NO", "column user_id uuid null=NO", "column token_type auth_token_type",
		"column encrypted_token text", "column iv text", "column token_hash text", "column attributes jsonb",
		"column session_state_id text null=NO", "column created_at timestamptz null=NO", "column updated_at timestamptz null=YES",
		"index auth_vault_user_id_token_type_idx btree (user_id, token_type)",
		"index auth_vault_session_state_token_type_idx btree (session_state_id, token_type)",
		"enum OFFLINE,REFRESH",
	} {
		assert.Contains(t, s, want)
	}
}

func TestMigrateDownUpRoundTrip(t *testing.T) {
	st := openStore(t, testenv.Database(t))
	migrateUp(t, st)
	before := schema(t, st)

	m, err := st.NewMigrator()
	require.NoError(t, err)
	defer m.Close()
	ctx := context.Background()
	for {
		ok, err := m.Down(ctx)
		require.NoError(t, err)
		if !ok {
			break
		}
	}
	v, err := m.Version(ctx)
	require.NoError(t, err)
	assert.Zero(t, v)
	assert.Empty(t, schema(t, st), "down must remove the schema")

	_, err = m.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, schema(t, st))
}

// pythonSchema is auth_vault as the Python service's Alembic migrations created it.
// column is "attributes" at its last revision, "metadata" at its first.
func pythonSchema(column string) string {
	return `
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('a1b2c3d4e5f6');
CREATE TYPE auth_token_type AS ENUM ('OFFLINE', 'REFRESH');
CREATE TABLE auth_vault (
    id uuid NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL,
    token_type auth_token_type NOT NULL,
    encrypted_token text NOT NULL,
    iv text NOT NULL,
    token_hash text NOT NULL,
    ` + column + ` jsonb,
    session_state_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
);
CREATE INDEX auth_vault_user_id_token_type_idx ON auth_vault (user_id, token_type);
CREATE INDEX auth_vault_session_state_token_type_idx ON auth_vault (session_state_id, token_type);
INSERT INTO auth_vault (id, user_id, token_type, encrypted_token, iv, token_hash, ` + column + `, session_state_id, created_at, updated_at) VALUES
 ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'REFRESH', 'deadbeef00', '000102030405060708090a0b0c0d0e0f', 'h1', '{"k":"v"}', 'sid-1', '2024-01-02T03:04:05Z', NULL),
 ('22222222-2222-4222-8222-222222222222', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'OFFLINE', 'cafebabe11', '0f0e0d0c0b0a09080706050403020100', 'h2', NULL, 'sid-2', '2024-02-03T04:05:06Z', '2024-02-04T00:00:00Z'),
 ('33333333-3333-4333-8333-333333333333', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'OFFLINE', 'f00d', 'aa', 'h3', '{"from":"22222222-2222-4222-8222-222222222222"}', 'sid-3', '2024-03-04T05:06:07Z', NULL);
`
}

// rows returns every auth_vault row as text, ordered by id.
func rows(t *testing.T, st *store.Store, column string) []string {
	t.Helper()
	q := `SELECT concat_ws('|', id, user_id, token_type, encrypted_token, iv, token_hash, ` + column + `::text, session_state_id, created_at, updated_at) FROM auth_vault ORDER BY id`
	r, err := st.Pool().Query(context.Background(), q)
	require.NoError(t, err)
	out, err := pgx.CollectRows(r, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func TestMigrateAdoptsPythonDatabase(t *testing.T) {
	for _, column := range []string{"attributes", "metadata"} {
		t.Run("python schema with "+column, func(t *testing.T) {
			st := openStore(t, testenv.Database(t))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := st.Pool().Exec(ctx, pythonSchema(column))
			require.NoError(t, err)
			before := rows(t, st, column)
			require.Len(t, before, 3)

			migrateUp(t, st)
			migrateUp(t, st) // a second start is a no-op

			after := rows(t, st, "attributes")
			assert.Equal(t, before, after, "adoption must not touch a row")
			assert.Contains(t, schema(t, st), "column attributes jsonb")
			assert.NotContains(t, schema(t, st), "column metadata")

			var alembic string
			require.NoError(t, st.Pool().QueryRow(ctx, `SELECT version_num FROM alembic_version`).Scan(&alembic))
			assert.Equal(t, "a1b2c3d4e5f6", alembic, "the Python service's bookkeeping stays, for a rollback")

			var status strings.Builder
			m, err := st.NewMigrator()
			require.NoError(t, err)
			defer m.Close()
			require.NoError(t, m.Status(ctx, &status))
			assert.Contains(t, status.String(), "applied")
			assert.NotContains(t, status.String(), "pending")
		})
	}
}

func TestMigrateMovesDuplicateRefreshRows(t *testing.T) {
	st := openStore(t, testenv.Database(t))
	ctx := context.Background()
	_, err := st.Pool().Exec(ctx, pythonSchema("attributes")+`
INSERT INTO auth_vault (id, user_id, token_type, encrypted_token, iv, token_hash, session_state_id, created_at, updated_at) VALUES
 ('44444444-4444-4444-8444-444444444444', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'REFRESH', 'old', 'iv', 'h4', 'sid-4', '2023-01-01T00:00:00Z', NULL),
 ('55555555-5555-4555-8555-555555555555', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'REFRESH', 'newest', 'iv', 'h5', 'sid-5', '2023-01-01T00:00:00Z', '2025-01-01T00:00:00Z');`)
	require.NoError(t, err)

	migrateUp(t, st)

	var kept []string
	r, err := st.Pool().Query(ctx, `SELECT id::text FROM auth_vault WHERE user_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' AND token_type = 'REFRESH'`)
	require.NoError(t, err)
	kept, err = pgx.CollectRows(r, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"55555555-5555-4555-8555-555555555555"}, kept, "the newest REFRESH row stays")

	r, err = st.Pool().Query(ctx, `SELECT id::text FROM auth_vault_removed_duplicates ORDER BY id`)
	require.NoError(t, err)
	moved, err := pgx.CollectRows(r, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"11111111-1111-4111-8111-111111111111", "44444444-4444-4444-8444-444444444444"}, moved,
		"older duplicates are moved aside, not lost")

	_, err = st.Pool().Exec(ctx, `INSERT INTO auth_vault (id, user_id, token_type, encrypted_token, iv, token_hash, session_state_id)
		VALUES ('66666666-6666-4666-8666-666666666666', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'REFRESH', 'x', 'y', 'z', 's')`)
	require.Error(t, err, "a second REFRESH row for a user is refused by the database")
}

// TestStaleMACClearedOnForeignRewrite: a writer that knows nothing of mac/key_id (the
// Python service after a rollback) turns the row into a readable legacy row.
func TestStaleMACClearedOnForeignRewrite(t *testing.T) {
	st := openStore(t, testenv.Database(t))
	migrateUp(t, st)
	ctx := context.Background()
	_, err := st.Pool().Exec(ctx, `INSERT INTO auth_vault (id, user_id, token_type, encrypted_token, iv, token_hash, session_state_id, mac, key_id)
		VALUES ('77777777-7777-4777-8777-777777777777', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'OFFLINE', 'aa', 'bb', 'h', 's', 'm', 'k')`)
	require.NoError(t, err)
	_, err = st.Pool().Exec(ctx, `UPDATE auth_vault SET encrypted_token = 'cc', iv = 'dd' WHERE id = '77777777-7777-4777-8777-777777777777'`)
	require.NoError(t, err)
	row, err := st.Get(ctx, "77777777-7777-4777-8777-777777777777")
	require.NoError(t, err)
	assert.Empty(t, row.MAC)
	assert.Empty(t, row.KeyID)

	_, err = st.Pool().Exec(ctx, `UPDATE auth_vault SET mac = 'm' WHERE id = '77777777-7777-4777-8777-777777777777'`)
	require.Error(t, err, "a tag without a key id is refused")
}
