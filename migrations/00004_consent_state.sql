-- Pending offline-consent requests, added by the Go service.
--
-- GET /v1/offline-token writes one row per consent URL, keyed by the random state id
-- that the signed `state` parameter names (its jti). It keeps the PKCE verifier and the
-- OpenID nonce on the server, so that the callback never has to trust the browser for
-- them. The callback takes the row with DELETE … RETURNING: a state works once, on any
-- replica, even when the first attempt failed at Keycloak. Expired rows are purged
-- whenever a new consent starts.
--
-- The verifier alone cannot redeem a code: the token endpoint also wants this service's
-- client secret, and the code lives for about a minute. It is stored as it is.

-- +goose Up
CREATE TABLE IF NOT EXISTS offline_consent_state (
    state_id         text PRIMARY KEY,
    user_id          uuid NOT NULL,
    session_state_id text NOT NULL,
    code_verifier    text NOT NULL,
    nonce            text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS offline_consent_state_expires_at_idx ON offline_consent_state (expires_at);

-- +goose Down
DROP TABLE IF EXISTS offline_consent_state;
