-- Background work that costs what it does, not what the table holds.
--
-- Indexes matching the order each background query reads in:
--   auth_vault_offline_idle_id_idx  the keep-alive's claim of idle OFFLINE rows, oldest
--                                   use first (replaces auth_vault_offline_idle_idx, which
--                                   lacked the id that breaks ties and pages a dry run);
--   auth_vault_invalid_idx          the clean-up's rows marked invalid, oldest mark first;
--   auth_vault_key_id_idx           re-sealing: the rows of one key (or legacy, NULL) by id,
--                                   the key ids in use, the doctor's legacy count.
-- auth_vault_type_status: a multivariate MCV list, so that the vault-rows gauge reads the
-- split by token type and status from PostgreSQL's statistics instead of counting rows.
-- claimed_until: a keep-alive worker's claim on an idle row; other workers skip the row
-- until then. A crashed worker's claims expire on their own.
-- job_lease: which replica computes the cluster-wide gauges (a lease that expires).
-- job_rate: the next free slot of a rate shared by every replica (the keep-alive's
-- refreshes per second at Keycloak).
-- auth_vault_clear_stale_mac fires only on writes of the token columns, so that claims
-- and status changes do not read the out-of-line ciphertext to compare it.
--
-- Plain CREATE INDEX inside the migration's transaction: all of it applies or none does,
-- and an interrupted build leaves no invalid index behind. It blocks writes to auth_vault
-- (not reads) while the indexes build; on a large table create them beforehand with
-- CREATE INDEX CONCURRENTLY under the same names, and this migration skips them.

-- +goose Up
ALTER TABLE auth_vault ADD COLUMN IF NOT EXISTS claimed_until timestamptz;

CREATE INDEX IF NOT EXISTS auth_vault_offline_idle_id_idx ON auth_vault ((coalesce(last_used_at, created_at)), id)
    WHERE token_type = 'OFFLINE' AND status = 'active';
DROP INDEX IF EXISTS auth_vault_offline_idle_idx;
CREATE INDEX IF NOT EXISTS auth_vault_invalid_idx ON auth_vault ((coalesce(updated_at, created_at)), id)
    WHERE status = 'invalid';
CREATE INDEX IF NOT EXISTS auth_vault_key_id_idx ON auth_vault (key_id, id);

CREATE STATISTICS IF NOT EXISTS auth_vault_type_status (mcv) ON token_type, status FROM auth_vault;

DROP TRIGGER IF EXISTS auth_vault_clear_stale_mac ON auth_vault;
CREATE TRIGGER auth_vault_clear_stale_mac BEFORE UPDATE OF encrypted_token, iv ON auth_vault
    FOR EACH ROW EXECUTE FUNCTION auth_vault_clear_stale_mac();

CREATE TABLE IF NOT EXISTS job_lease (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS job_rate (
    name    text PRIMARY KEY,
    next_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS job_rate;
DROP TABLE IF EXISTS job_lease;
DROP TRIGGER IF EXISTS auth_vault_clear_stale_mac ON auth_vault;
CREATE TRIGGER auth_vault_clear_stale_mac BEFORE UPDATE ON auth_vault
    FOR EACH ROW EXECUTE FUNCTION auth_vault_clear_stale_mac();
DROP STATISTICS IF EXISTS auth_vault_type_status;
DROP INDEX IF EXISTS auth_vault_key_id_idx;
DROP INDEX IF EXISTS auth_vault_invalid_idx;
CREATE INDEX IF NOT EXISTS auth_vault_offline_idle_idx ON auth_vault ((coalesce(last_used_at, created_at)))
    WHERE token_type = 'OFFLINE' AND status = 'active';
DROP INDEX IF EXISTS auth_vault_offline_idle_id_idx;
ALTER TABLE auth_vault DROP COLUMN IF EXISTS claimed_until;
