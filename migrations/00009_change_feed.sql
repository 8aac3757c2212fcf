-- Cache evictions as a replayable feed (package feed).
--
-- One row per auth_vault row deleted, or changed in status, owner, type or session: the
-- changes after which no replica may serve a cached access token of it. Every replica
-- follows the rows by seq (after a NOTIFY on auth_vault_evict, on a poll, and after any
-- outage from the last seq it applied) and drops those tokens, so a reconnection does
-- not empty its cache.
--
-- The row is appended by a deferred constraint trigger, in the transaction that made
-- the change and at its commit, under a transaction-scoped advisory lock: seq order is
-- commit order (a follower that read up to seq N has seen every committed row <= N),
-- the lock is held only for the commit itself, and no row lock is taken after it (no
-- deadlock with the writer's own locks). Updates that change none of those columns
-- (every refresh) queue no trigger event at all.
--
-- The NOTIFY wakes followers at once; its payload, the row id, is what replicas that
-- evict from the notification alone (no feed table) act on while a rolling upgrade
-- replaces them.
--
-- at is when the row was appended; rows older than the followers' retention are
-- pruned, and auth_vault_evictions_pruned.through records the highest seq pruned: a
-- follower whose last seq is below it may have missed evictions and empties its cache.

-- +goose Up
CREATE TABLE IF NOT EXISTS auth_vault_evictions (
    seq    bigserial PRIMARY KEY,
    row_id uuid NOT NULL,
    at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS auth_vault_evictions_at_idx ON auth_vault_evictions (at);

CREATE TABLE IF NOT EXISTS auth_vault_evictions_pruned (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    through bigint NOT NULL DEFAULT 0
);
INSERT INTO auth_vault_evictions_pruned DEFAULT VALUES ON CONFLICT DO NOTHING;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION auth_vault_evict() RETURNS trigger AS $$
BEGIN
    -- 0x616d2d657663, "am-evc": the evictions' own lock (ended_sessions has another).
    PERFORM pg_advisory_xact_lock(107121540953699);
    INSERT INTO auth_vault_evictions (row_id) VALUES (OLD.id);
    PERFORM pg_notify('auth_vault_evict', OLD.id::text);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

DROP TRIGGER IF EXISTS auth_vault_notify_evict ON auth_vault;
DROP FUNCTION IF EXISTS auth_vault_notify_evict();
DROP TRIGGER IF EXISTS auth_vault_evict_delete ON auth_vault;
CREATE CONSTRAINT TRIGGER auth_vault_evict_delete AFTER DELETE ON auth_vault
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION auth_vault_evict();
DROP TRIGGER IF EXISTS auth_vault_evict_update ON auth_vault;
CREATE CONSTRAINT TRIGGER auth_vault_evict_update AFTER UPDATE ON auth_vault
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.status IS DISTINCT FROM OLD.status OR NEW.user_id IS DISTINCT FROM OLD.user_id
          OR NEW.token_type IS DISTINCT FROM OLD.token_type OR NEW.session_state_id IS DISTINCT FROM OLD.session_state_id)
    EXECUTE FUNCTION auth_vault_evict();

-- +goose Down
DROP TRIGGER IF EXISTS auth_vault_evict_update ON auth_vault;
DROP TRIGGER IF EXISTS auth_vault_evict_delete ON auth_vault;
DROP FUNCTION IF EXISTS auth_vault_evict();
DROP TABLE IF EXISTS auth_vault_evictions_pruned;
DROP TABLE IF EXISTS auth_vault_evictions;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION auth_vault_notify_evict() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('auth_vault_evict', OLD.id::text);
    ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.user_id IS DISTINCT FROM OLD.user_id
          OR NEW.token_type IS DISTINCT FROM OLD.token_type OR NEW.session_state_id IS DISTINCT FROM OLD.session_state_id THEN
        PERFORM pg_notify('auth_vault_evict', OLD.id::text);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER auth_vault_notify_evict AFTER UPDATE OR DELETE ON auth_vault
    FOR EACH ROW EXECUTE FUNCTION auth_vault_notify_evict();
