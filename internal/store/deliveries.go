package store

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
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

// fanOutReadSQL reads the events after the cursor: the types and users it names.
const fanOutReadSQL = `SELECT seq, user_id::text, type FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`

// lockQueueSQL is the transaction-scoped advisory lock of one subscriber's queue of one
// user's deliveries: the fan-out that appends to it and the finish that moves its head
// take it, so that exactly its oldest pending delivery is ready.
const lockQueueSQL = `SELECT pg_advisory_xact_lock(hashtextextended('event_deliveries:' || $1::text || ':' || $2::text, 0))`

// queueSQL queues the deliveries of the events $2 (seqs, in order) of user $3; the first
// is ready when nothing of that user is pending for the subscriber.
const queueSQL = `
INSERT INTO event_deliveries (subscriber, event_seq, user_id, ready)
SELECT $1, s.seq, $3::uuid, s.ord = 1 AND NOT EXISTS (
	SELECT 1 FROM event_deliveries p WHERE p.subscriber = $1 AND p.user_id = $3::uuid AND p.state = 'pending')
  FROM unnest($2::bigint[]) WITH ORDINALITY AS s (seq, ord)
ON CONFLICT DO NOTHING`

// FanOut queues subscriber's deliveries of up to limit events after its cursor (types:
// the event types it receives, every type when empty) and moves the cursor past them,
// in one transaction. A subscriber seen for the first time starts after the newest
// event. Another replica fanning out the same subscriber makes it return 0 at once.
// It returns how many events it read.
func (s *Store) FanOut(ctx context.Context, subscriber string, types []string, limit int) (int, error) {
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
		rows, err := tx.Query(ctx, fanOutReadSQL, cursor, limit)
		if err != nil {
			return wrap("fan out: read", err)
		}
		byUser := map[string][]int64{}
		var seq, last int64
		var user, typ string
		_, err = pgx.ForEachRow(rows, []any{&seq, &user, &typ}, func() error {
			read, last = read+1, seq
			if len(types) == 0 || slices.Contains(types, typ) {
				byUser[user] = append(byUser[user], seq)
			}
			return nil
		})
		if err != nil {
			return wrap("fan out: read", err)
		}
		if read == 0 {
			return nil
		}
		users := slices.Sorted(maps.Keys(byUser))
		b := &pgx.Batch{}
		for _, u := range users { // one order everywhere: no deadlock with a finish
			b.Queue(lockQueueSQL, subscriber, u)
		}
		for _, u := range users {
			b.Queue(queueSQL, subscriber, byUser[u], u)
		}
		b.Queue(`UPDATE event_subscriber_cursors SET seq = $2, updated_at = now() WHERE subscriber = $1`, subscriber, last)
		return wrap("fan out", tx.SendBatch(ctx, b).Close())
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

// claimSQL leases up to $2 ready deliveries of the subscribers $1 that are due: until
// the lease ends, the delivery is not due for anyone else.
const claimSQL = `
WITH due AS (
	SELECT d.subscriber, d.event_seq FROM event_deliveries d
	 WHERE d.subscriber = ANY($1) AND d.state = 'pending' AND d.ready AND d.next_attempt_at <= now()
	 ORDER BY d.next_attempt_at
	 LIMIT $2
	 FOR UPDATE SKIP LOCKED)
UPDATE event_deliveries d SET lease_id = gen_random_uuid(), next_attempt_at = now() + $3 * interval '1 millisecond',
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
	lease_id = NULL, last_status = nullif($6, 0), last_error = nullif($7, ''),
	delivered_at = CASE WHEN $4 = 'delivered' THEN now() END
 WHERE subscriber = $1 AND event_seq = $2 AND lease_id = $3::uuid`

// readyNextSQL readies the oldest pending delivery of subscriber $1 and user $2.
const readyNextSQL = `
UPDATE event_deliveries SET ready = true
 WHERE subscriber = $1 AND event_seq = (
	SELECT event_seq FROM event_deliveries
	 WHERE subscriber = $1 AND user_id = $2::uuid AND state = 'pending' ORDER BY event_seq LIMIT 1)
   AND NOT ready`

// FinishDeliveries records the outcomes of claimed deliveries and readies the next
// delivery of each finished one's user, in one transaction. It reports, per outcome,
// whether the lease was still held: false means the lease ran out and another claim may
// have sent the event again.
func (s *Store) FinishDeliveries(ctx context.Context, outs []Outcome) ([]bool, error) {
	if len(outs) == 0 {
		return nil, nil
	}
	held := make([]bool, len(outs))
	type queue struct{ subscriber, user string }
	queues := map[queue]bool{}
	for _, o := range outs {
		queues[queue{o.Delivery.Subscriber, o.Delivery.Event.UserID}] = true
	}
	order := slices.SortedFunc(maps.Keys(queues), func(a, b queue) int {
		return cmp.Or(cmp.Compare(a.subscriber, b.subscriber), cmp.Compare(a.user, b.user))
	})
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, q := range order { // the fan-out's order: no deadlock
			b.Queue(lockQueueSQL, q.subscriber, q.user)
		}
		for i, o := range outs {
			d := o.Delivery
			b.Queue(finishSQL, d.Subscriber, d.Event.Seq, d.Lease, o.State, o.RetryIn.Milliseconds(), o.Status, o.Error).
				Exec(func(tag pgconn.CommandTag) error { held[i] = tag.RowsAffected() == 1; return nil })
		}
		for _, q := range order {
			b.Queue(readyNextSQL, q.subscriber, q.user)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
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
