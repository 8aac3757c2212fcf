package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

const resealBatchSQL = `
SELECT ` + rowColumns + ` FROM auth_vault
WHERE id > $1 AND key_id IS DISTINCT FROM $2
ORDER BY id LIMIT $3
FOR UPDATE SKIP LOCKED`

// Re-sealing is maintenance, not a token change: updated_at keeps meaning "the token
// last changed".
const resealSQL = `UPDATE auth_vault SET encrypted_token = $2, iv = $3, mac = $4, key_id = $5 WHERE id = $1`

// ResealBatch locks, in one transaction, up to limit rows with id > afterID that are
// not sealed under keyID, skipping rows another transaction holds (a refresh in
// flight re-seals its row itself). fn returns the new sealing of a row, or nil to
// leave it. It returns the last id seen (the cursor for the next batch; "" when the
// batch was empty) and how many rows were seen and rewritten.
func (s *Store) ResealBatch(ctx context.Context, afterID, keyID string, limit int, fn func(Row) *Sealing) (last string, seen, written int, err error) {
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := collect(tx.Query(ctx, resealBatchSQL, afterID, keyID, limit))
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

const legacyRowsSQL = `SELECT ` + rowColumns + ` FROM auth_vault WHERE id > $1 AND mac IS NULL ORDER BY id LIMIT $2`

// LegacyRows returns up to limit rows without an integrity tag with id > afterID, in
// id order, without locking them (rotate-keys counts them).
func (s *Store) LegacyRows(ctx context.Context, afterID string, limit int) ([]Row, error) {
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := collect(s.pool.Query(ctx, legacyRowsSQL, afterID, limit))
	return rows, wrap("legacy rows", err)
}

const countByKeySQL = `SELECT coalesce(key_id, ''), count(*) FROM auth_vault GROUP BY 1 ORDER BY 1`

// CountByKey returns how many rows each key id sealed ("" for legacy rows).
func (s *Store) CountByKey(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, countByKeySQL)
	if err != nil {
		return nil, wrap("count by key", err)
	}
	out := map[string]int{}
	var k string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { out[k] = n; return nil })
	return out, wrap("count by key", err)
}

const countByTypeStatusSQL = `SELECT token_type::text, status, count(*) FROM auth_vault GROUP BY 1, 2`

// TypeStatusCount is the number of rows of one type and status.
type TypeStatusCount struct {
	Type, Status string
	Count        int
}

// CountByTypeStatus counts rows by token type and status (for the vault-rows gauge).
func (s *Store) CountByTypeStatus(ctx context.Context) ([]TypeStatusCount, error) {
	rows, err := s.pool.Query(ctx, countByTypeStatusSQL)
	if err != nil {
		return nil, wrap("count rows", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TypeStatusCount, error) {
		var c TypeStatusCount
		err := r.Scan(&c.Type, &c.Status, &c.Count)
		return c, err
	})
	return out, wrap("count rows", err)
}
