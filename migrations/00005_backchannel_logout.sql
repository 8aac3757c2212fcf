-- Back-channel logout replay protection and the keep-alive job's index, added by the Go
-- service.
--
-- backchannel_logout_jti: the jti of every logout token Keycloak sent that was accepted,
-- so that the same token is refused on every replica if it is presented again. A row is
-- kept only while its token could still pass the freshness check (expires_at); expired
-- rows are purged by the receiver and by the keep-alive job.
--
-- auth_vault_offline_idle_idx: the keep-alive job looks for active OFFLINE rows that
-- have not been used for a while.

-- +goose Up
CREATE TABLE IF NOT EXISTS backchannel_logout_jti (
    jti         text PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS backchannel_logout_jti_expires_at_idx ON backchannel_logout_jti (expires_at);

CREATE INDEX IF NOT EXISTS auth_vault_offline_idle_idx ON auth_vault ((coalesce(last_used_at, created_at)))
    WHERE token_type = 'OFFLINE' AND status = 'active';

-- +goose Down
DROP INDEX IF EXISTS auth_vault_offline_idle_idx;
DROP TABLE IF EXISTS backchannel_logout_jti;
