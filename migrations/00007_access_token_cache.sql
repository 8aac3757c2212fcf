-- The access token last minted from each vault row, kept sealed so that every replica
-- serves the same token for the token's lifetime instead of refreshing on its own.
--
-- A table of its own rather than columns on auth_vault: a sealed access token is about
-- 3 KB of hex, which every query over auth_vault (listings, background passes, samples)
-- would otherwise carry past; a row is absent rather than a set of NULL columns when
-- nothing was minted; and the Python service's code, which knows auth_vault only, is
-- unaffected by it.
--
-- The token is sealed like the vault's own (AES-256-CBC, the HMAC tag binding key id,
-- IV, ciphertext and the row's identity) under a purpose of its own, so that it never
-- opens as the row's refresh or offline token nor the reverse. mac and key_id are
-- required: an untagged (legacy-looking) row here would not be bound to anything.
--
-- It goes with its row: deleted with it (ON DELETE CASCADE), and dropped by a trigger
-- when the row becomes invalid or changes owner, type or session (the same changes
-- that evict the replicas' in-memory caches).

-- +goose Up
CREATE TABLE IF NOT EXISTS auth_vault_access (
    row_id          uuid PRIMARY KEY REFERENCES auth_vault (id) ON DELETE CASCADE,
    encrypted_token text NOT NULL,
    iv              text NOT NULL,
    mac             text NOT NULL,
    key_id          text NOT NULL,
    token_type      text NOT NULL,
    scope           text NOT NULL,
    expires_at      timestamptz NOT NULL,
    minted_at       timestamptz NOT NULL DEFAULT now()
);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION auth_vault_access_drop() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status OR NEW.user_id IS DISTINCT FROM OLD.user_id
       OR NEW.token_type IS DISTINCT FROM OLD.token_type OR NEW.session_state_id IS DISTINCT FROM OLD.session_state_id THEN
        DELETE FROM auth_vault_access WHERE row_id = OLD.id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
DROP TRIGGER IF EXISTS auth_vault_access_drop ON auth_vault;
CREATE TRIGGER auth_vault_access_drop AFTER UPDATE ON auth_vault
    FOR EACH ROW EXECUTE FUNCTION auth_vault_access_drop();

-- +goose Down
DROP TRIGGER IF EXISTS auth_vault_access_drop ON auth_vault;
DROP FUNCTION IF EXISTS auth_vault_access_drop();
DROP TABLE IF EXISTS auth_vault_access;
