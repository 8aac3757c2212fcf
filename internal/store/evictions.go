package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// EvictChannel is the NOTIFY channel that wakes the followers of auth_vault_evictions
// when a row is appended (migration 9's trigger, at the commit of the change).
const EvictChannel = "auth_vault_evict"

// Evictions is one read of the eviction feed (table auth_vault_evictions).
type Evictions struct {
	// RowIDs are the vault rows evicted after the seq read from, in seq order.
	RowIDs []string
	// Last is the highest seq read, or the seq read from when there was none; after a
	// Gap, at least the highest seq pruned.
	Last int64
	// Gap means rows after the seq read from were pruned before they could be read:
	// evictions may have been missed.
	Gap bool
}

const (
	evictionsAfterSQL = `SELECT seq, row_id::text FROM auth_vault_evictions WHERE seq > $1 ORDER BY seq LIMIT $2`
	prunedThroughSQL  = `SELECT through FROM auth_vault_evictions_pruned`
)

// EvictionsAfter returns up to limit evictions after seq after. The pruning horizon is
// read after the rows, so a Gap is never missed, at worst reported for rows pruned
// after they were read.
func (s *Store) EvictionsAfter(ctx context.Context, after int64, limit int) (Evictions, error) {
	out := Evictions{Last: after}
	var pruned int64
	b := &pgx.Batch{}
	b.Queue(evictionsAfterSQL, after, limit).Query(func(rows pgx.Rows) error {
		var seq int64
		var id string
		_, err := pgx.ForEachRow(rows, []any{&seq, &id}, func() error {
			out.RowIDs = append(out.RowIDs, id)
			out.Last = seq
			return nil
		})
		return err
	})
	b.Queue(prunedThroughSQL).QueryRow(func(row pgx.Row) error { return row.Scan(&pruned) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return Evictions{}, wrap("read evictions", err)
	}
	if pruned > after {
		out.Gap = true
		out.Last = max(out.Last, pruned)
	}
	return out, nil
}

const evictionsHeadSQL = `SELECT greatest(coalesce((SELECT max(seq) FROM auth_vault_evictions), 0), (SELECT through FROM auth_vault_evictions_pruned))`

// EvictionsHead is the highest seq appended or pruned so far: where a follower whose
// cache is empty starts.
func (s *Store) EvictionsHead(ctx context.Context) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, evictionsHeadSQL).Scan(&seq)
	return seq, wrap("read evictions head", err)
}

// pruneEvictionsSQL deletes the oldest rows appended more than $1 seconds ago (the
// database's clock), at most $2, and raises the horizon to the highest seq deleted.
const pruneEvictionsSQL = `
WITH gone AS (
    DELETE FROM auth_vault_evictions
     WHERE seq IN (SELECT seq FROM auth_vault_evictions
                    WHERE at < clock_timestamp() - make_interval(secs => $1) ORDER BY seq LIMIT $2)
    RETURNING seq),
horizon AS (
    UPDATE auth_vault_evictions_pruned SET through = greatest(through, (SELECT max(seq) FROM gone))
     WHERE EXISTS (SELECT FROM gone))
SELECT count(*) FROM gone`

// PruneEvictions deletes up to limit evictions older than retention and returns how
// many it deleted.
func (s *Store) PruneEvictions(ctx context.Context, retention time.Duration, limit int) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, pruneEvictionsSQL, retention.Seconds(), limit).Scan(&n)
	return n, wrap("prune evictions", err)
}
