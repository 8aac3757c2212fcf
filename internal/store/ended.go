package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// EndedChannel is the NOTIFY channel that wakes the followers of ended_sessions when a
// record is appended. The notification carries nothing: the table is the feed.
const EndedChannel = "auth_session_ended"

// endedFeedLock is the transaction-scoped advisory lock under which records are
// appended: one writer at a time takes a seq and commits, so seq order is commit order
// and a follower that has read up to seq N has seen every committed record <= N.
const endedFeedLock int64 = 0x616d2d656e64

// Ended is one record of the ended-session feed (table ended_sessions): the Keycloak
// session SessionID ended (for ClientID's tokens only, when not ""), or, when UserID is
// set, as of At only the sessions Live of UserID were live.
type Ended struct {
	Seq       int64
	SessionID string
	ClientID  string
	UserID    string
	At        time.Time
	Live      []string
	EndedAt   time.Time
	ExpiresAt time.Time
}

const appendEndedSQL = `
INSERT INTO ended_sessions (session_id, client_id, user_id, at, live, ended_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING seq`

// AppendEnded appends r to the feed and wakes the followers, in one transaction, and
// returns its seq once committed.
func (s *Store) AppendEnded(ctx context.Context, r Ended) (int64, error) {
	var at any
	var live []string
	if r.UserID != "" {
		at, live = r.At, r.Live
		if live == nil {
			live = []string{}
		}
	}
	var seq int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SELECT pg_advisory_xact_lock($1)`, endedFeedLock)
		b.Queue(appendEndedSQL, r.SessionID, r.ClientID, r.UserID, at, live, r.EndedAt, r.ExpiresAt).
			QueryRow(func(row pgx.Row) error { return row.Scan(&seq) })
		b.Queue(`SELECT pg_notify($1, '')`, EndedChannel)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return 0, wrap("append ended session", err)
	}
	return seq, nil
}

const endedAfterSQL = `
SELECT seq, session_id, client_id, user_id, at, live, ended_at, expires_at
  FROM ended_sessions
 WHERE seq > $1 AND expires_at > $2
 ORDER BY seq
 LIMIT $3`

// EndedAfter returns up to limit records after seq after, in seq order, leaving out
// those expired at now.
func (s *Store) EndedAfter(ctx context.Context, after int64, now time.Time, limit int) ([]Ended, error) {
	rows, err := s.pool.Query(ctx, endedAfterSQL, after, now, limit)
	if err != nil {
		return nil, wrap("read ended sessions", err)
	}
	out := make([]Ended, 0, min(limit, 1024))
	var r Ended
	var at *time.Time
	_, err = pgx.ForEachRow(rows, []any{&r.Seq, &r.SessionID, &r.ClientID, &r.UserID, &at, &r.Live, &r.EndedAt, &r.ExpiresAt}, func() error {
		e := r
		if at != nil {
			e.At = *at
		}
		out = append(out, e)
		r.Live, at = nil, nil
		return nil
	})
	if err != nil {
		return nil, wrap("read ended sessions", err)
	}
	return out, nil
}

const pruneEndedSQL = `
DELETE FROM ended_sessions
 WHERE seq IN (SELECT seq FROM ended_sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`

// PruneEnded deletes up to limit records expired at now and returns how many it deleted.
func (s *Store) PruneEnded(ctx context.Context, now time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, pruneEndedSQL, now, limit)
	if err != nil {
		return 0, wrap("prune ended sessions", err)
	}
	return tag.RowsAffected(), nil
}
