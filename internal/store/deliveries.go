package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Delivery states (event_deliveries.state).
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryDead      = "dead"
)

const ensureCursorSQL = `
INSERT INTO event_subscriber_cursors (subscriber, seq) SELECT $1, coalesce(max(seq), 0) FROM events
ON CONFLICT (subscriber) DO NOTHING`

const lockCursorSQL = `SELECT seq FROM event_subscriber_cursors WHERE subscriber = $1 FOR UPDATE SKIP LOCKED`

// fanOutSQL reads the events after the cursor and queues the deliveries of those the
// subscriber asked for (every type when $4 is empty); it answers the last seq read.
const fanOutSQL = `
WITH evs AS (SELECT seq, user_id, type FROM events WHERE seq > $2 ORDER BY seq LIMIT $3),
ins AS (
	INSERT INTO event_deliveries (subscriber, event_seq, user_id)
	SELECT $1, seq, user_id FROM evs WHERE cardinality($4::text[]) = 0 OR type = ANY($4::text[])
	ON CONFLICT DO NOTHING)
SELECT count(*), coalesce(max(seq), $2) FROM evs`

// FanOut queues subscriber's deliveries of up to limit events after its cursor (types:
// the event types it receives, every type when empty) and moves the cursor past them,
// in one transaction. A subscriber seen for the first time starts after the newest
// event. Another replica fanning out the same subscriber makes it return 0 at once.
// It returns how many events it read.
func (s *Store) FanOut(ctx context.Context, subscriber string, types []string, limit int) (int, error) {
	if types == nil {
		types = []string{}
	}
	if _, err := s.pool.Exec(ctx, ensureCursorSQL, subscriber); err != nil {
		return 0, wrap("fan out: cursor", err)
	}
	read := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cursor int64
		err := tx.QueryRow(ctx, lockCursorSQL, subscriber).Scan(&cursor)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // another replica holds it
		}
		if err != nil {
			return wrap("fan out: lock cursor", err)
		}
		var last int64
		if err := tx.QueryRow(ctx, fanOutSQL, subscriber, cursor, limit, types).Scan(&read, &last); err != nil {
			return wrap("fan out", err)
		}
		if read == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE event_subscriber_cursors SET seq = $2, updated_at = now() WHERE subscriber = $1`, subscriber, last)
		return wrap("fan out: move cursor", err)
	})
	if err != nil {
		return 0, classifyTx(err)
	}
	return read, nil
}

// Delivery is one claimed delivery of an event to a subscriber.
type Delivery struct {
	Subscriber string
	Attempt    int    // this attempt's number, from 1
	Lease      string // the claim's lease id: only its holder may finish it
	Event      Event
}

// claimSQL leases up to $2 due deliveries of the subscribers $1: pending, due, not
// leased (or whose lease expired: its holder died), and the oldest pending one of their
// subscriber and user, so that a user's later event never overtakes an earlier one.
const claimSQL = `
WITH due AS (
	SELECT d.subscriber, d.event_seq FROM event_deliveries d
	 WHERE d.state = 'pending' AND d.subscriber = ANY($1) AND d.next_attempt_at <= now()
	   AND (d.leased_until IS NULL OR d.leased_until < now())
	   AND NOT EXISTS (SELECT 1 FROM event_deliveries p
	                    WHERE p.subscriber = d.subscriber AND p.user_id = d.user_id
	                      AND p.state = 'pending' AND p.event_seq < d.event_seq)
	 ORDER BY d.next_attempt_at, d.event_seq
	 LIMIT $2
	 FOR UPDATE OF d SKIP LOCKED)
UPDATE event_deliveries d SET lease_id = gen_random_uuid(), leased_until = now() + $3 * interval '1 millisecond',
	attempts = d.attempts + 1
  FROM due, events e
 WHERE d.subscriber = due.subscriber AND d.event_seq = due.event_seq AND e.seq = d.event_seq
RETURNING d.subscriber, d.attempts, d.lease_id::text, e.seq, e.id::text, e.type, e.occurred_at, e.user_id::text,
	coalesce(e.persistent_token_id::text, ''), coalesce(e.token_type, ''), e.session_id, e.cause, e.details`

// ClaimDeliveries leases up to limit due deliveries of the given subscribers for lease:
// no other claim gets them until the lease ends (the holder finishes them, or died).
func (s *Store) ClaimDeliveries(ctx context.Context, subscribers []string, limit int, lease time.Duration) ([]Delivery, error) {
	rows, err := s.pool.Query(ctx, claimSQL, subscribers, limit, lease.Milliseconds())
	if err != nil {
		return nil, wrap("claim deliveries", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		var typ string
		e := &d.Event
		err := r.Scan(&d.Subscriber, &d.Attempt, &d.Lease, &e.Seq, &e.ID, &e.Type, &e.OccurredAt, &e.UserID, &e.RowID, &typ,
			&e.SessionID, &e.Cause, &e.Details)
		e.TokenType = TokenType(typ)
		return d, err
	})
	return out, wrap("claim deliveries", err)
}

// Outcome is how one attempt of a claimed delivery ended.
type Outcome struct {
	Delivery Delivery
	State    string        // DeliveryDelivered, DeliveryPending (retry after RetryIn) or DeliveryDead
	RetryIn  time.Duration // for DeliveryPending
	Status   int           // the subscriber's HTTP status; 0 when it did not answer
	Error    string        // why it failed (never a secret)
}

const finishSQL = `
UPDATE event_deliveries SET state = $4, next_attempt_at = now() + $5 * interval '1 millisecond',
	lease_id = NULL, leased_until = NULL, last_status = nullif($6, 0), last_error = nullif($7, ''),
	delivered_at = CASE WHEN $4 = 'delivered' THEN now() END
 WHERE subscriber = $1 AND event_seq = $2 AND lease_id = $3::uuid`

// FinishDeliveries records the outcomes of claimed deliveries, in one round trip. It
// reports, per outcome, whether the lease was still held: false means the lease ran
// out and another claim may have sent the event again.
func (s *Store) FinishDeliveries(ctx context.Context, outs []Outcome) ([]bool, error) {
	if len(outs) == 0 {
		return nil, nil
	}
	held := make([]bool, len(outs))
	b := &pgx.Batch{}
	for i, o := range outs {
		d := o.Delivery
		b.Queue(finishSQL, d.Subscriber, d.Event.Seq, d.Lease, o.State, o.RetryIn.Milliseconds(), o.Status, o.Error).
			Exec(func(tag pgconn.CommandTag) error { held[i] = tag.RowsAffected() == 1; return nil })
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, wrap("finish deliveries", err)
	}
	return held, nil
}

// SubscriberBacklog is a subscriber's pending deliveries.
type SubscriberBacklog struct {
	Subscriber string
	Pending    int
	Oldest     time.Duration // age of the oldest pending delivery's event
}

const backlogSQL = `
SELECT d.subscriber, count(*), coalesce(extract(epoch FROM now() - min(e.occurred_at)), 0)
  FROM event_deliveries d JOIN events e ON e.seq = d.event_seq
 WHERE d.state = 'pending'
 GROUP BY d.subscriber`

// DeliveryBacklog counts every subscriber's pending deliveries and the age of the
// oldest (the partial index of pending rows; no scan of finished ones).
func (s *Store) DeliveryBacklog(ctx context.Context) ([]SubscriberBacklog, error) {
	rows, err := s.pool.Query(ctx, backlogSQL)
	if err != nil {
		return nil, wrap("delivery backlog", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SubscriberBacklog, error) {
		var b SubscriberBacklog
		var secs float64
		err := r.Scan(&b.Subscriber, &b.Pending, &secs)
		b.Oldest = time.Duration(secs * float64(time.Second))
		return b, err
	})
	return out, wrap("delivery backlog", err)
}
