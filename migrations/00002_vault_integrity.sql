-- Integrity and one-refresh-token-per-user, added by the Go service.
--
-- mac/key_id hold the HMAC tag and the id of the key that sealed a row (NULL for a
-- row the Python service wrote, which is re-sealed on its next write or by
-- `auth-manager rotate-keys`). The partial unique index makes "one refresh token per
-- user" a database guarantee; duplicates a legacy database may hold are moved, not
-- dropped, into auth_vault_removed_duplicates (the newest row of each user stays).

-- +goose Up
ALTER TABLE auth_vault ADD COLUMN IF NOT EXISTS mac text;
ALTER TABLE auth_vault ADD COLUMN IF NOT EXISTS key_id text;

-- A tag without its key id (or the reverse) can never open: refuse it at the source.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'auth_vault_mac_key_id_together') THEN
        ALTER TABLE auth_vault ADD CONSTRAINT auth_vault_mac_key_id_together CHECK ((mac IS NULL) = (key_id IS NULL));
    END IF;
END
$$;
-- +goose StatementEnd

-- Rollback safety: if the Python service runs against this database again, it rewrites
-- encrypted_token/iv but knows nothing of mac/key_id. Without this trigger such a row
-- would carry a stale tag and never open again; with it, the row becomes a legacy row
-- (readable, re-sealed on its next write here).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION auth_vault_clear_stale_mac() RETURNS trigger AS $$
BEGIN
    IF (NEW.encrypted_token IS DISTINCT FROM OLD.encrypted_token OR NEW.iv IS DISTINCT FROM OLD.iv)
       AND NEW.mac IS NOT DISTINCT FROM OLD.mac THEN
        NEW.mac := NULL;
        NEW.key_id := NULL;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
DROP TRIGGER IF EXISTS auth_vault_clear_stale_mac ON auth_vault;
CREATE TRIGGER auth_vault_clear_stale_mac BEFORE UPDATE ON auth_vault
    FOR EACH ROW EXECUTE FUNCTION auth_vault_clear_stale_mac();

CREATE TABLE IF NOT EXISTS auth_vault_removed_duplicates (
    LIKE auth_vault,
    removed_at timestamptz NOT NULL DEFAULT now(),
    reason     text NOT NULL
);

WITH ranked AS (
    SELECT id, row_number() OVER (
        PARTITION BY user_id
        ORDER BY coalesce(updated_at, created_at) DESC, created_at DESC, id DESC
    ) AS n
    FROM auth_vault WHERE token_type = 'REFRESH'
), moved AS (
    INSERT INTO auth_vault_removed_duplicates
    SELECT v.*, now(), 'duplicate REFRESH row of the same user (migration 2 kept the newest)'
    FROM auth_vault v JOIN ranked r ON r.id = v.id WHERE r.n > 1
    RETURNING id
)
DELETE FROM auth_vault WHERE id IN (SELECT id FROM moved);

CREATE UNIQUE INDEX IF NOT EXISTS auth_vault_one_refresh_per_user_idx
    ON auth_vault (user_id) WHERE token_type = 'REFRESH';

-- +goose Down
DROP INDEX IF EXISTS auth_vault_one_refresh_per_user_idx;
DROP TRIGGER IF EXISTS auth_vault_clear_stale_mac ON auth_vault;
DROP FUNCTION IF EXISTS auth_vault_clear_stale_mac();
ALTER TABLE auth_vault DROP CONSTRAINT IF EXISTS auth_vault_mac_key_id_together;
ALTER TABLE auth_vault DROP COLUMN IF EXISTS key_id;
ALTER TABLE auth_vault DROP COLUMN IF EXISTS mac;
-- auth_vault_removed_duplicates is dropped only when empty: it may hold the only copy
-- of a removed row (and then rolling back migration 1 fails rather than lose it).
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM auth_vault_removed_duplicates) THEN
        DROP TABLE auth_vault_removed_duplicates;
    END IF;
END
$$;
-- +goose StatementEnd
