package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// The background jobs' queries on the vault table (migration 8). Every replica runs
// them at once: a batch is claimed with FOR UPDATE SKIP LOCKED, so two workers never
// take the same row, and each query walks the partial index whose order it reads in.

// Claims are taken in a subquery that locks the batch, then written by primary key:
// ARRAY(...) keeps the planner from joining the table to itself by a scan.
const claimIdleSQL = `
UPDATE auth_vault SET claimed_until = $3
WHERE id = ANY(ARRAY(
	SELECT id FROM auth_vault
	WHERE token_type = 'OFFLINE' AND status = 'active' AND coalesce(last_used_at, created_at) < $1
	  AND (claimed_until IS NULL OR claimed_until <= $2)
	ORDER BY coalesce(last_used_at, created_at), id
	LIMIT $4
	FOR UPDATE SKIP LOCKED))
RETURNING ` + metaColumns

// ClaimIdle claims up to limit active OFFLINE rows last used (or, never used, created)
// before idleSince and not claimed by another worker at now, the longest idle first,
// until until. A claim is not a lock: it only keeps other ClaimIdle calls away.
func (s *Store) ClaimIdle(ctx context.Context, idleSince, now, until time.Time, limit int) ([]Meta, error) {
	rows, err := collectMeta(s.pool.Query(ctx, claimIdleSQL, idleSince, now, until, limit))
	return rows, wrap("claim idle offline rows", err)
}

const setClaimSQL = `UPDATE auth_vault SET claimed_until = $2 WHERE id = ANY($1::uuid[])`

// SetClaims moves the claims on rows ids to until: nil gives them up at once (a
// stopped worker), a later time keeps other workers away until then (a row whose
// refresh failed waits for the next pass).
func (s *Store) SetClaims(ctx context.Context, ids []string, until *time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, setClaimSQL, ids, until)
	return wrap("set claims", err)
}

const idlePageSQL = `SELECT ` + metaColumns + ` FROM auth_vault
WHERE token_type = 'OFFLINE' AND status = 'active' AND coalesce(last_used_at, created_at) < $1
  AND (coalesce(last_used_at, created_at), id) > ($2, $3)
ORDER BY coalesce(last_used_at, created_at), auth_vault.id LIMIT $4`

// Cursor is a position in a walk over rows ordered by a time, then id. The zero
// Cursor is the start.
type Cursor struct {
	At time.Time
	ID string
}

func (c Cursor) args() (time.Time, string) {
	if c.ID == "" {
		return time.Time{}, uuid.Nil.String()
	}
	return c.At, c.ID
}

// IdlePage returns up to limit active OFFLINE rows unused since idleSince after
// cursor, the longest idle first, without claiming them (a dry run), and the cursor of
// the next page.
func (s *Store) IdlePage(ctx context.Context, idleSince time.Time, after Cursor, limit int) ([]Meta, Cursor, error) {
	at, id := after.args()
	rows, err := collectMeta(s.pool.Query(ctx, idlePageSQL, idleSince, at, id, limit))
	if err != nil || len(rows) == 0 {
		return rows, after, wrap("idle offline rows", err)
	}
	last := rows[len(rows)-1]
	return rows, Cursor{At: lastUse(last), ID: last.ID}, nil
}

func lastUse(m Meta) time.Time {
	if m.LastUsedAt != nil {
		return *m.LastUsedAt
	}
	return m.CreatedAt
}

func marked(m Meta) time.Time {
	if m.UpdatedAt != nil {
		return *m.UpdatedAt
	}
	return m.CreatedAt
}

const deleteInvalidSQL = `
DELETE FROM auth_vault
WHERE id = ANY(ARRAY(
	SELECT id FROM auth_vault
	WHERE status = 'invalid' AND coalesce(updated_at, created_at) < $1
	ORDER BY coalesce(updated_at, created_at), id
	LIMIT $2
	FOR UPDATE SKIP LOCKED))
RETURNING ` + metaColumns

// DeleteInvalid deletes up to limit rows marked invalid before markedBefore (a row's
// updated_at is when it was marked), the oldest mark first, skipping rows another
// transaction holds, appends their events (why) in the same transaction, and returns
// their metadata.
func (s *Store) DeleteInvalid(ctx context.Context, markedBefore time.Time, limit int, why Why) ([]Meta, error) {
	return s.deleteRows(ctx, "delete invalid rows", why, deleteInvalidSQL, markedBefore, limit)
}

const invalidPageSQL = `SELECT ` + metaColumns + ` FROM auth_vault
WHERE status = 'invalid' AND coalesce(updated_at, created_at) < $1
  AND (coalesce(updated_at, created_at), id) > ($2, $3)
ORDER BY coalesce(updated_at, created_at), auth_vault.id LIMIT $4`

// InvalidPage returns up to limit rows marked invalid before markedBefore after
// cursor, the oldest mark first, without deleting them (a dry run), and the cursor of
// the next page.
func (s *Store) InvalidPage(ctx context.Context, markedBefore time.Time, after Cursor, limit int) ([]Meta, Cursor, error) {
	at, id := after.args()
	rows, err := collectMeta(s.pool.Query(ctx, invalidPageSQL, markedBefore, at, id, limit))
	if err != nil || len(rows) == 0 {
		return rows, after, wrap("invalid rows", err)
	}
	last := rows[len(rows)-1]
	return rows, Cursor{At: marked(last), ID: last.ID}, nil
}
