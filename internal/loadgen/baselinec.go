package loadgen

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// baselineCPool is the most connections baseline C opens: the service's own pool
// bound (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW defaults), so that at high
// concurrency both queue for the same number of connections.
const baselineCPool = 30

// BaselineC targets PostgreSQL directly with the transaction a refresh wraps around
// the Keycloak call, minus the call: BEGIN; SELECT … FOR UPDATE of a vault row;
// UPDATE of that row; COMMIT (one WAL flush). Rows are spread over the fixture's
// users like the cache-disabled scenario's, so concurrent workers never share one.
// close releases the pool.
func BaselineC(ctx context.Context, dbURL string, f *Fixture, c int) (t Target, close func(), err error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return Target{}, nil, fmt.Errorf("baseline C: %w", err)
	}
	cfg.MaxConns = int32(min(c, baselineCPool))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return Target{}, nil, fmt.Errorf("baseline C: %w", err)
	}
	ids := make([]string, len(f.Users))
	for i, u := range f.Users {
		ids[i] = u.RowID
	}
	t = Target{Call: func(ctx context.Context, w, n int) error {
		i, _ := spreadIndex(w, n, c, len(ids))
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var id string
			if err := tx.QueryRow(ctx, `SELECT id::text FROM auth_vault WHERE id = $1 FOR UPDATE`, ids[i]).Scan(&id); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE auth_vault SET updated_at = now(), last_used_at = now() WHERE id = $1`, ids[i])
			return err
		})
	}}
	return t, pool.Close, nil
}
