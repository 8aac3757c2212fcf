-- Row health and cross-replica cache eviction.
--
-- status/last_error: a token Keycloak refused for good (invalid_grant) is marked
-- 'invalid', so later calls fail fast with the same clear error and listings show it.
-- last_used_at: when the service last obtained an access token from the row (the
-- offline keep-alive job uses it).
-- auth_vault_evict: every replica LISTENs on this channel; a deleted row, or one whose
-- owner or status changed, is announced so that no replica keeps serving a cached
-- access token for it.

-- +goose Up
ALTER TABLE auth_vault ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'active';
ALTER TABLE auth_vault ADD COLUMN IF NOT EXISTS last_error text;
ALTER TABLE auth_vault ADD COLUMN IF NOT EXISTS last_used_at timestamptz;

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'auth_vault_status_known') THEN
        ALTER TABLE auth_vault ADD CONSTRAINT auth_vault_status_known CHECK (status IN ('active', 'invalid'));
    END IF;
END
$$;
-- +goose StatementEnd

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
DROP TRIGGER IF EXISTS auth_vault_notify_evict ON auth_vault;
CREATE TRIGGER auth_vault_notify_evict AFTER UPDATE OR DELETE ON auth_vault
    FOR EACH ROW EXECUTE FUNCTION auth_vault_notify_evict();

-- +goose Down
DROP TRIGGER IF EXISTS auth_vault_notify_evict ON auth_vault;
DROP FUNCTION IF EXISTS auth_vault_notify_evict();
ALTER TABLE auth_vault DROP CONSTRAINT IF EXISTS auth_vault_status_known;
ALTER TABLE auth_vault DROP COLUMN IF EXISTS last_used_at;
ALTER TABLE auth_vault DROP COLUMN IF EXISTS last_error;
ALTER TABLE auth_vault DROP COLUMN IF EXISTS status;
