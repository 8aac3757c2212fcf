package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Event types: what happened to a stored token (table events).
const (
	// EventTokenInvalid: Keycloak refused the row's token for good (invalid_grant); the
	// user must consent or log in again.
	EventTokenInvalid = "token.invalid"
	// EventRefreshFailing: the row's refreshes kept failing for another reason
	// (Keycloak unavailable or erring) past the threshold.
	EventRefreshFailing = "token.refresh_failing"
	// EventRecovered: a row that was failing (announced) or invalid works again.
	EventRecovered = "token.recovered"
	// EventExpiring: the row's grant reaches its hard deadline within the horizon.
	EventExpiring = "token.expiring"
	// EventTokenDeleted: the row was deleted.
	EventTokenDeleted = "token.deleted"
	// EventSessionEnded: the row's Keycloak session ended and the row was deleted.
	EventSessionEnded = "session.ended"
)

// EventTypes lists every event type, in the order the documentation gives them.
var EventTypes = []string{EventTokenInvalid, EventRefreshFailing, EventRecovered, EventExpiring, EventTokenDeleted, EventSessionEnded}

// Causes: who or what made an event happen.
const (
	CauseUser              = "user"               // the row's user asked (a user caller)
	CauseService           = "service"            // a service caller asked
	CauseBackchannelLogout = "backchannel_logout" // Keycloak's back-channel logout, or the reconciliation after one
	CauseCleanup           = "cleanup"            // the keep-alive job's clean-up of rows marked invalid
	CauseInvalidGrant      = "invalid_grant"      // Keycloak refused the token for good
	CauseKeycloakFailing   = "keycloak_failing"   // refreshes failed without a refusal
	CauseRefreshed         = "refreshed"          // a refresh worked again
	CauseStoredAgain       = "stored_again"       // a new token was stored into the row
)

// Event is one token-health event. It names a row and its user and never carries a
// token.
type Event struct {
	Seq        int64
	ID         string
	Type       string
	OccurredAt time.Time
	UserID     string
	RowID      string    // "" when the event is about no single row
	TokenType  TokenType // "" with RowID
	SessionID  string
	Cause      string
	Details    map[string]any
}

// EventOf is an event of type typ about row m.
func EventOf(typ, cause string, m Meta, details map[string]any) Event {
	return Event{Type: typ, Cause: cause, UserID: m.UserID, RowID: m.ID, TokenType: m.Type, SessionID: m.SessionID, Details: details}
}

// EventsChannel is the NOTIFY channel that wakes the webhook deliverers when events are
// appended. The notification carries nothing: the table is the feed.
const EventsChannel = "auth_events"

// eventsLock is the transaction-scoped advisory lock under which events are appended:
// one writer at a time takes seqs and commits, so seq order is commit order.
// ("am-evnt" in ASCII.)
const eventsLock int64 = 0x616d2d65766e74

const insertEventSQL = `
INSERT INTO events (type, occurred_at, user_id, persistent_token_id, token_type, session_id, cause, details)
VALUES ($1, coalesce($2, clock_timestamp()), $3, $4, $5, $6, $7, coalesce($8, '{}'::jsonb))`

// appendEvents writes evs in tx and wakes the deliverers at commit. It takes the events
// lock, which the transaction then holds until it ends: call it as the transaction's
// last statement, after every row lock it takes, so that no transaction holding the
// lock ever waits for a row (rows first, then the lock, in every writer).
func appendEvents(ctx context.Context, tx pgx.Tx, evs ...Event) error {
	if len(evs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	queueEvents(b, evs...)
	return wrap("append events", tx.SendBatch(ctx, b).Close())
}

// queueEvents is appendEvents as statements queued on b, for a transaction that sends
// its last statements in one batch; it queues nothing for no events.
func queueEvents(b *pgx.Batch, evs ...Event) {
	if len(evs) == 0 {
		return
	}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, eventsLock)
	for _, e := range evs {
		var at *time.Time
		if !e.OccurredAt.IsZero() {
			at = &e.OccurredAt
		}
		var details any
		if len(e.Details) > 0 {
			details = jsonArg(e.Details)
		}
		b.Queue(insertEventSQL, e.Type, at, e.UserID, nullable(e.RowID), nullable(string(e.TokenType)), e.SessionID, e.Cause, details)
	}
	b.Queue(`SELECT pg_notify($1, '')`, EventsChannel)
}

// AppendEvents appends evs in a transaction of their own (events whose cause changed
// no row: tests and tools).
func (s *Store) AppendEvents(ctx context.Context, evs ...Event) error {
	return classifyTx(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return appendEvents(ctx, tx, evs...) }))
}

// Why says why rows are deleted: the event each deleted row gets, its cause and
// details. An empty Event picks by the row: session.ended when its recorded refusal
// says its Keycloak session is over (SessionOver), token.deleted otherwise.
type Why struct {
	Event   string
	Cause   string
	Details map[string]any
}

// SessionOver reports whether a row's recorded refusal (last_error) says that its
// Keycloak session is no longer active ("Session not active", "Offline session not
// active"), rather than that this one token was refused.
func SessionOver(lastError string) bool {
	return strings.Contains(strings.ToLower(lastError), "session not active")
}

// deletedEvents are the events of rows deleted for why.
func deletedEvents(rows []Meta, why Why) []Event {
	out := make([]Event, 0, len(rows))
	for _, r := range rows {
		typ := why.Event
		if typ == "" {
			typ = EventTokenDeleted
			if SessionOver(r.LastError) {
				typ = EventSessionEnded
			}
		}
		out = append(out, EventOf(typ, why.Cause, r, why.Details))
	}
	return out
}

// deleteRows runs a DELETE … RETURNING metaColumns and appends the events of the rows
// it deleted, in one transaction.
func (s *Store) deleteRows(ctx context.Context, op string, why Why, sql string, args ...any) ([]Meta, error) {
	var out []Meta
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := collectMeta(tx.Query(ctx, sql, args...))
		if err != nil {
			return wrap(op, err)
		}
		out = rows
		return appendEvents(ctx, tx, deletedEvents(rows, why)...)
	})
	if err != nil {
		return nil, classifyTx(err)
	}
	return out, nil
}

// deleteOne is deleteRows for a statement that deletes at most one row: ErrNotFound
// when it deleted none.
func (s *Store) deleteOne(ctx context.Context, op string, why Why, sql string, args ...any) (Meta, error) {
	rows, err := s.deleteRows(ctx, op, why, sql, args...)
	switch {
	case err != nil:
		return Meta{}, err
	case len(rows) == 0:
		return Meta{}, ErrNotFound
	}
	return rows[0], nil
}

const eventColumns = `seq, id::text, type, occurred_at, user_id::text, coalesce(persistent_token_id::text, ''),
	coalesce(token_type, ''), session_id, cause, details`

func scanEvent(r pgx.Row) (Event, error) {
	var e Event
	var typ string
	err := r.Scan(&e.Seq, &e.ID, &e.Type, &e.OccurredAt, &e.UserID, &e.RowID, &typ, &e.SessionID, &e.Cause, &e.Details)
	e.TokenType = TokenType(typ)
	return e, err
}

func collectEvents(rows pgx.Rows, err error) ([]Event, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) { return scanEvent(r) })
}

const eventsAfterSQL = `SELECT ` + eventColumns + ` FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`

const userEventsAfterSQL = `SELECT ` + eventColumns + ` FROM events WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`

// EventsAfter returns up to limit events with seq > after, oldest first: every user's
// when userID is "", else userID's only.
func (s *Store) EventsAfter(ctx context.Context, userID string, after int64, limit int) ([]Event, error) {
	if userID == "" {
		evs, err := collectEvents(s.pool.Query(ctx, eventsAfterSQL, after, limit))
		return evs, wrap("events after", err)
	}
	if uuid.Validate(userID) != nil {
		return nil, nil
	}
	evs, err := collectEvents(s.pool.Query(ctx, userEventsAfterSQL, userID, after, limit))
	return evs, wrap("events after", err)
}

// pruneEventsSQL deletes, oldest first, events that occurred before the cutoff $1 and
// that no subscriber still waits for (a pending delivery keeps its event), or that
// occurred before $3 whatever waits for them (a subscriber removed from the
// configuration never finishes its deliveries).
const pruneEventsSQL = `
DELETE FROM events WHERE seq IN (
	SELECT e.seq FROM events e
	 WHERE e.occurred_at < $1
	   AND (e.occurred_at < $3
	        OR NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_seq = e.seq AND d.state = 'pending'))
	 ORDER BY e.occurred_at LIMIT $2)`

// PruneEvents deletes up to limit events older than before that no delivery waits for,
// and those older than regardless whatever waits (with their deliveries), and returns
// how many it deleted.
func (s *Store) PruneEvents(ctx context.Context, before, regardless time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, pruneEventsSQL, before, limit, regardless)
	if err != nil {
		return 0, wrap("prune events", err)
	}
	return tag.RowsAffected(), nil
}

const recordFailureSQL = `
INSERT INTO token_failures AS f (row_id, failures, failing_since, last_failed_at, last_failure)
VALUES ($1, 1, clock_timestamp(), clock_timestamp(), $2)
ON CONFLICT (row_id) DO UPDATE SET failures = f.failures + 1, last_failed_at = clock_timestamp(), last_failure = $2
RETURNING failures, failing_since, announced`

// RecordRefreshFailure counts one more failed refresh of row m (Keycloak unavailable
// or erring, not a refusal) with reason (never a token). When the run reaches
// threshold failures and was not announced yet, it appends token.refresh_failing in the
// same transaction and reports true. A row deleted meanwhile is ErrNotFound.
func (s *Store) RecordRefreshFailure(ctx context.Context, m Meta, reason string, threshold int) (announced bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var n int
		var since time.Time
		var was bool
		if err := tx.QueryRow(ctx, recordFailureSQL, m.ID, reason).Scan(&n, &since, &was); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23503" { // the row is gone
				return ErrNotFound
			}
			return wrap("record refresh failure", err)
		}
		if was || threshold <= 0 || n < threshold {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE token_failures SET announced = true WHERE row_id = $1`, m.ID); err != nil {
			return wrap("announce refresh failure", err)
		}
		announced = true
		return appendEvents(ctx, tx, EventOf(EventRefreshFailing, CauseKeycloakFailing, m, map[string]any{
			"failures": n, "failing_since": since.UTC(), "last_error": reason}))
	})
	if err != nil {
		return false, classifyTx(err)
	}
	return announced, nil
}

// failureRunSQL reads a row's run of failed refreshes, if it has one.
const failureRunSQL = `SELECT failures, failing_since, announced FROM token_failures WHERE row_id = $1`

// clearFailuresSQL ends a row's run of failed refreshes, an announced one only when $2
// (its end is announced in the same transaction).
const clearFailuresSQL = `DELETE FROM token_failures WHERE row_id = $1 AND (NOT announced OR $2)`

// scanFailureRun receives failureRunSQL: nil when the row has no run.
func scanFailureRun(r pgx.Row) (*failureRun, error) {
	var fr failureRun
	err := r.Scan(&fr.failures, &fr.since, &fr.announced)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("read failure run", err)
	}
	return &fr, nil
}

// failureRun is a row's current run of failed refreshes.
type failureRun struct {
	failures  int
	since     time.Time
	announced bool
}

// recoveredEvents is token.recovered for row m when run had been announced.
func recoveredEvents(m Meta, run *failureRun) []Event {
	if run == nil || !run.announced {
		return nil
	}
	return []Event{EventOf(EventRecovered, CauseRefreshed, m, map[string]any{
		"failures": run.failures, "failing_since": run.since.UTC()})}
}
