-- Ended Keycloak sessions, as a replayable feed (package ended).
--
-- One row per end the service learned of: a back-channel logout, DELETE
-- /v1/sessions/{id}, a revoked refresh token (client_id names the client whose part of
-- the session ended; '' is the whole session), or a user rule: "as of `at`, only the
-- sessions `live` of user_id were live" (what a reconciliation after Keycloak's sign-out
-- of a user finds). Every replica loads the unexpired rows at start and follows new ones
-- by seq; a NOTIFY on auth_session_ended (no payload) wakes it.
--
-- Writers append under a transaction-scoped advisory lock, so seq order is commit
-- order: a follower that has read up to seq N has seen every committed row <= N.
--
-- expires_at is when the last access token the session could have issued has expired
-- (the realm's access-token lifespan plus clock skew); after it the row is pruned.

-- +goose Up
CREATE TABLE IF NOT EXISTS ended_sessions (
    seq        bigserial PRIMARY KEY,
    session_id text NOT NULL DEFAULT '',
    client_id  text NOT NULL DEFAULT '',
    user_id    text NOT NULL DEFAULT '',
    at         timestamptz,
    live       text[],
    ended_at   timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CONSTRAINT ended_sessions_one_rule CHECK (
        (session_id <> '' AND user_id = '' AND at IS NULL AND live IS NULL)
        OR (session_id = '' AND client_id = '' AND user_id <> '' AND at IS NOT NULL AND live IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS ended_sessions_expires_at_idx ON ended_sessions (expires_at);

-- +goose Down
DROP TABLE IF EXISTS ended_sessions;
