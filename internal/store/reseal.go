package store

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Re-sealing walks auth_vault_key_id_idx: the rows of one key (or the legacy rows,
// whose key_id is NULL) in id order. A row re-sealed under another key leaves that
// walk, so concurrent walkers (several rotate-keys processes) never re-seal a row
// twice, and an interrupted walk resumes by walking again.

const keysInUseSQL = `
WITH RECURSIVE k AS (
	(SELECT key_id FROM auth_vault WHERE key_id IS NOT NULL ORDER BY key_id LIMIT 1)
	UNION ALL
	SELECT (SELECT key_id FROM auth_vault WHERE key_id > k.key_id ORDER BY key_id LIMIT 1) FROM k WHERE k.key_id IS NOT NULL
)
SELECT key_id FROM k WHERE key_id IS NOT NULL
UNION ALL
SELECT '' WHERE EXISTS (SELECT 1 FROM auth_vault WHERE key_id IS NULL)`

// KeysInUse returns the key ids that seal at least one row, "" standing for legacy
// rows (no integrity tag). It probes the index once per key, whatever the row count.
func (s *Store) KeysInUse(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, keysInUseSQL)
	if err != nil {
		return nil, wrap("keys in use", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return keys, wrap("keys in use", err)
}

const (
	countKeySQL    = `SELECT count(*) FROM (SELECT 1 FROM auth_vault WHERE key_id = $1 LIMIT $2) s`
	countLegacySQL = `SELECT count(*) FROM (SELECT 1 FROM auth_vault WHERE key_id IS NULL LIMIT $1) s`
)

// CountKey counts the rows sealed under keyID ("": legacy rows), up to limit (0: all
// of them). It reads the index entries of those rows only.
func (s *Store) CountKey(ctx context.Context, keyID string, limit int) (int, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	var n int
	var err error
	if keyID == "" {
		err = s.pool.QueryRow(ctx, countLegacySQL, lim).Scan(&n)
	} else {
		err = s.pool.QueryRow(ctx, countKeySQL, keyID, lim).Scan(&n)
	}
	return n, wrap("count key", err)
}

const (
	resealKeySQL = `SELECT ` + rowColumns + ` FROM auth_vault WHERE key_id = $1 AND id > $2
ORDER BY key_id, auth_vault.id LIMIT $3 FOR UPDATE`
	resealLegacySQL = `SELECT ` + rowColumns + ` FROM auth_vault WHERE key_id IS NULL AND id > $1
ORDER BY key_id, auth_vault.id LIMIT $2 FOR UPDATE`
)

// Re-sealing is maintenance, not a token change: updated_at keeps meaning "the token
// last changed".
const resealSQL = `UPDATE auth_vault SET encrypted_token = $2, iv = $3, mac = $4, key_id = $5 WHERE id = $1`

// ResealBatch locks, in one transaction, up to limit rows sealed under keyID ("":
// legacy rows) with id > afterID. With skipLocked it passes over rows another
// transaction holds (a refresh in flight re-seals its row itself, another re-sealer
// has its own batch); without, it waits for them and leaves out those that moved to
// another key meanwhile. fn returns the new sealing of a row, or nil to leave it. It
// returns the last id seen (the cursor for the next batch; "" when the batch was
// empty) and how many rows were seen and rewritten.
func (s *Store) ResealBatch(ctx context.Context, keyID, afterID string, limit int, skipLocked bool, fn func(Row) *Sealing) (last string, seen, written int, err error) {
	if afterID == "" {
		afterID = uuid.Nil.String()
	}
	q, args := resealKeySQL, []any{keyID, afterID, limit}
	if keyID == "" {
		q, args = resealLegacySQL, []any{afterID, limit}
	}
	if skipLocked {
		q += " SKIP LOCKED"
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := collect(tx.Query(ctx, q, args...))
		if err != nil {
			return wrap("reseal select", err)
		}
		batch := &pgx.Batch{}
		for _, r := range rows {
			last = r.ID
			seen++
			if n := fn(r); n != nil {
				batch.Queue(resealSQL, r.ID, n.EncryptedToken, n.IV, nullable(n.MAC), nullable(n.KeyID))
				written++
			}
		}
		if batch.Len() == 0 {
			return nil
		}
		return wrap("reseal update", tx.SendBatch(ctx, batch).Close())
	})
	if err != nil {
		return "", 0, 0, classifyTx(err)
	}
	return last, seen, written, nil
}

const legacyRowsSQL = `SELECT ` + rowColumns + ` FROM auth_vault WHERE key_id IS NULL AND id > $1 ORDER BY key_id, auth_vault.id LIMIT $2`

// LegacyRows returns up to limit rows without an integrity tag with id > afterID, in
// id order, without locking them (rotate-keys counts them).
func (s *Store) LegacyRows(ctx context.Context, afterID string, limit int) ([]Row, error) {
	if afterID == "" {
		afterID = uuid.Nil.String()
	}
	rows, err := collect(s.pool.Query(ctx, legacyRowsSQL, afterID, limit))
	return rows, wrap("legacy rows", err)
}
