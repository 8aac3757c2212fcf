package store

import (
	"context"
	"errors"
	"math"

	"github.com/jackc/pgx/v5"
)

// Row counts without counting rows: PostgreSQL's own estimates, kept fresh by
// autovacuum's ANALYZE, read in a few catalogue lookups whatever the table holds.

// TypeStatusCount is the number of rows of one type and status.
type TypeStatusCount struct {
	Type, Status string
	Count        int
}

// ExactBelowPages is the size (in 8 KiB pages of the table's main part, the
// ciphertext being stored apart) under which RowsByTypeStatus counts rows instead of
// estimating them: 2 048 pages, about 50 000 rows.
const ExactBelowPages = 2048

// ErrNoEstimate means PostgreSQL holds no statistics of the table yet (it was never
// analysed) and the table is too large to count.
var ErrNoEstimate = errors.New("store: no row estimate yet")

// sizeSQL is the table's size now and when it was last analysed: the planner scales
// reltuples by the current size the same way.
const sizeSQL = `SELECT c.reltuples::float8, c.relpages::int8, (pg_relation_size(c.oid) / current_setting('block_size')::int)::int8
FROM pg_class c WHERE c.oid = 'auth_vault'::regclass`

const countByTypeStatusSQL = `SELECT token_type::text, status, count(*) FROM auth_vault GROUP BY 1, 2`

// mcvSQL reads the joint frequencies of (token_type, status) from the extended
// statistics auth_vault_type_status (migration 8). pg_stats_ext shows them to the
// table's owner only; perColumnSQL is what other roles can read.
const mcvSQL = `SELECT e.most_common_vals[i][1], e.most_common_vals[i][2], e.most_common_freqs[i]
FROM pg_stats_ext e, generate_subscripts(e.most_common_freqs, 1) AS i
WHERE e.schemaname = current_schema() AND e.tablename = 'auth_vault' AND e.statistics_name = 'auth_vault_type_status'`

const perColumnSQL = `SELECT attname::text, most_common_vals::text::text[], most_common_freqs
FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'auth_vault' AND attname IN ('token_type', 'status')`

// RowsByTypeStatus returns the number of rows by token type and status, and whether
// the figures are exact. A table of fewer than exactBelow pages is counted; a larger
// one is estimated from PostgreSQL's statistics: the row estimate scaled to the
// table's current size, split by the joint frequencies of type and status (or, when
// they cannot be read, by each column's frequencies as if independent). A combination
// too rare for ANALYZE's sample to see is estimated at 0.
func (s *Store) RowsByTypeStatus(ctx context.Context, exactBelow int64) ([]TypeStatusCount, bool, error) {
	var reltuples float64
	var relpages, pages int64
	if err := s.pool.QueryRow(ctx, sizeSQL).Scan(&reltuples, &relpages, &pages); err != nil {
		return nil, false, wrap("table size", err)
	}
	if pages < exactBelow {
		out, err := s.countByTypeStatus(ctx)
		return out, true, err
	}
	if reltuples < 0 || relpages <= 0 {
		return nil, false, ErrNoEstimate
	}
	total := reltuples / float64(relpages) * float64(pages)
	freqs, err := s.typeStatusFreqs(ctx)
	if err != nil {
		return nil, false, err
	}
	if len(freqs) == 0 {
		return nil, false, ErrNoEstimate
	}
	out := make([]TypeStatusCount, 0, len(freqs))
	for k, f := range freqs {
		out = append(out, TypeStatusCount{Type: k[0], Status: k[1], Count: int(math.Round(total * f))})
	}
	return out, false, nil
}

func (s *Store) countByTypeStatus(ctx context.Context) ([]TypeStatusCount, error) {
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

// typeStatusFreqs returns the fraction of rows of each (type, status).
func (s *Store) typeStatusFreqs(ctx context.Context) (map[[2]string]float64, error) {
	out := map[[2]string]float64{}
	rows, err := s.pool.Query(ctx, mcvSQL)
	if err != nil {
		return nil, wrap("statistics", err)
	}
	var typ, status string
	var f float64
	if _, err := pgx.ForEachRow(rows, []any{&typ, &status, &f}, func() error {
		out[[2]string{typ, status}] = f
		return nil
	}); err != nil {
		return nil, wrap("statistics", err)
	}
	if len(out) > 0 {
		return out, nil
	}
	rows, err = s.pool.Query(ctx, perColumnSQL)
	if err != nil {
		return nil, wrap("statistics", err)
	}
	col := map[string]map[string]float64{}
	var name string
	var vals []string
	var fs []float64
	if _, err := pgx.ForEachRow(rows, []any{&name, &vals, &fs}, func() error {
		col[name] = map[string]float64{}
		for i := range min(len(vals), len(fs)) {
			col[name][vals[i]] = fs[i]
		}
		return nil
	}); err != nil {
		return nil, wrap("statistics", err)
	}
	for t, ft := range col["token_type"] {
		for st, fst := range col["status"] {
			out[[2]string{t, st}] = ft * fst
		}
	}
	return out, nil
}
