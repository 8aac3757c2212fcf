-- Creates the auth_vault schema exactly as the Python service's Alembic migrations left
-- it, or adopts it when it is already there. Every statement is conditional, so a
-- database migrated by the Python service (at its first or last revision) passes
-- through without error and without any row being touched.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typname = 'auth_token_type' AND n.nspname = current_schema()
    ) THEN
        CREATE TYPE auth_token_type AS ENUM ('OFFLINE', 'REFRESH');
    END IF;
END
$$;
-- +goose StatementEnd

CREATE TABLE IF NOT EXISTS auth_vault (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL,
    token_type       auth_token_type NOT NULL,
    encrypted_token  text NOT NULL,
    iv               text NOT NULL,
    token_hash       text NOT NULL,
    attributes       jsonb,
    session_state_id text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz
);

-- The Python service's first revision called the column "metadata" (a name SQLAlchemy
-- reserves); its second renamed it. A database left at the first revision is finished here.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'auth_vault' AND column_name = 'metadata'
    ) AND NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'auth_vault' AND column_name = 'attributes'
    ) THEN
        ALTER TABLE auth_vault RENAME COLUMN metadata TO attributes;
    END IF;
END
$$;
-- +goose StatementEnd

CREATE INDEX IF NOT EXISTS auth_vault_user_id_token_type_idx ON auth_vault (user_id, token_type);
CREATE INDEX IF NOT EXISTS auth_vault_session_state_token_type_idx ON auth_vault (session_state_id, token_type);

-- +goose Down
DROP TABLE IF EXISTS auth_vault;
DROP TYPE IF EXISTS auth_token_type;
