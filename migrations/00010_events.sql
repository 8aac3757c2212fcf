-- Token-health events: an outbox, its webhook deliveries and the rows' health records.
--
-- events: one row per event (token.invalid, token.refresh_failing, token.recovered,
-- token.expiring, token.deleted, session.ended), written in the transaction of the state
-- change that causes it. Writers append under a transaction-scoped advisory lock taken
-- after every row lock of the transaction, so seq order is commit order: a reader that
-- has read up to seq N has seen every committed event <= N (the cursor of GET
-- /v1/events and of the webhook fan-out). A NOTIFY on auth_events (no payload) wakes the
-- deliverers. No column ever holds a token.
--
-- event_deliveries: one row per (subscriber, event) the subscriber asked for, pending
-- until delivered or dead (attempts exhausted). Only the oldest pending row of a
-- subscriber and user is ready (per-subscriber ordering by user): the fan-out sets it
-- when it queues a row with nothing pending before it, and finishing a row readies the
-- next one, both under a transaction-scoped advisory lock of that subscriber and user. A
-- deliverer claims ready rows that are due with FOR UPDATE SKIP LOCKED and leases them
-- (lease_id; next_attempt_at moves to the lease's end): no two replicas send one
-- delivery at the same time, and a dead claimer's delivery comes due again when its
-- lease ends.
--
-- event_subscriber_cursors: how far the fan-out of each subscriber has read events.
--
-- token_failures: a row's current run of failed refreshes (Keycloak unavailable or
-- erring); deleted by the next successful refresh.
--
-- token_forecasts: when a row's grant reaches its hard deadline, as derived from the
-- realm's settings and the session's start, and the deadline last announced
-- (token.expiring), so that each deadline is announced once.

-- +goose Up
CREATE TABLE IF NOT EXISTS events (
    seq                 bigserial PRIMARY KEY,
    id                  uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    type                text NOT NULL,
    occurred_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id             uuid NOT NULL,
    persistent_token_id uuid,
    token_type          text,
    session_id          text NOT NULL DEFAULT '',
    cause               text NOT NULL DEFAULT '',
    details             jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_user_seq_idx ON events (user_id, seq);
CREATE INDEX IF NOT EXISTS events_occurred_at_idx ON events (occurred_at);

CREATE TABLE IF NOT EXISTS event_deliveries (
    subscriber      text NOT NULL,
    event_seq       bigint NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    user_id         uuid NOT NULL,
    state           text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    ready           boolean NOT NULL DEFAULT false,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_id        uuid,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    PRIMARY KEY (subscriber, event_seq),
    CONSTRAINT event_deliveries_state_known CHECK (state IN ('pending', 'delivered', 'dead'))
);
CREATE INDEX IF NOT EXISTS event_deliveries_due_idx ON event_deliveries (subscriber, next_attempt_at) WHERE state = 'pending' AND ready;
CREATE INDEX IF NOT EXISTS event_deliveries_user_idx ON event_deliveries (subscriber, user_id, event_seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS event_deliveries_event_idx ON event_deliveries (event_seq);

CREATE TABLE IF NOT EXISTS event_subscriber_cursors (
    subscriber text PRIMARY KEY,
    seq        bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS token_failures (
    row_id         uuid PRIMARY KEY REFERENCES auth_vault (id) ON DELETE CASCADE,
    failures       integer NOT NULL,
    failing_since  timestamptz NOT NULL,
    last_failed_at timestamptz NOT NULL,
    last_failure   text NOT NULL DEFAULT '',
    announced      boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS token_forecasts (
    row_id          uuid PRIMARY KEY REFERENCES auth_vault (id) ON DELETE CASCADE,
    expires_at      timestamptz,
    expires_basis   text NOT NULL,
    computed_at     timestamptz NOT NULL,
    announced_for   timestamptz
);

-- +goose Down
DROP TABLE IF EXISTS token_forecasts;
DROP TABLE IF EXISTS token_failures;
DROP TABLE IF EXISTS event_subscriber_cursors;
DROP TABLE IF EXISTS event_deliveries;
DROP TABLE IF EXISTS events;
