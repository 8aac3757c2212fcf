package store_test

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// benchStore is a store on a fresh migrated database, reached at dbURL (which may be
// PgBouncer's address for the same database).
func benchStore(b *testing.B, dbURL string, opt store.Options) *store.Store {
	b.Helper()
	opt.URL, opt.MaxConns = dbURL, 8
	st, err := store.Open(context.Background(), opt, testenv.DiscardLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	return st
}

// seedRows inserts n OFFLINE rows and returns their ids.
func seedRows(b *testing.B, st *store.Store, n int) []string {
	b.Helper()
	rows, err := st.Pool().Query(context.Background(), `INSERT INTO auth_vault (id, user_id, token_type, encrypted_token, iv, token_hash, session_state_id)
		SELECT gen_random_uuid(), gen_random_uuid(), 'OFFLINE', repeat('ab', 600), 'bb', 'h' || g, 'sid-' || g FROM generate_series(1, $1) g
		RETURNING id::text`, n)
	if err != nil {
		b.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkDeleteCommit: one vault row deleted per transaction, with the eviction feed
// (the deferred trigger appends to auth_vault_evictions under the advisory lock and
// notifies, at commit) and with the schema one migration down (a trigger that only
// notifies). Each iteration deletes one row of each, alternately, so that a busy
// machine's drift weighs on both alike; the metrics are each one's median and 90th
// percentile. serial: one caller; parallel: 4 callers per CPU at once, where the
// feed's lock serialises the commits.
func BenchmarkDeleteCommit(b *testing.B) {
	ctx := context.Background()
	setup := func(b *testing.B, down bool) (*store.Store, chan string) {
		st := benchStore(b, testenv.Database(b), store.Options{})
		m, err := st.NewMigrator()
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		if _, err := m.Up(ctx); err != nil {
			b.Fatal(err)
		}
		if down {
			if _, err := m.Down(ctx); err != nil {
				b.Fatal(err)
			}
		}
		ids := make(chan string, b.N)
		for _, id := range seedRows(b, st, b.N) {
			ids <- id
		}
		return st, ids
	}
	for _, mode := range []string{"serial", "parallel"} {
		b.Run(mode, func(b *testing.B) {
			feed, feedIDs := setup(b, false)
			notify, notifyIDs := setup(b, true)
			var mu sync.Mutex
			var feedTook, notifyTook []time.Duration
			del := func(st *store.Store, ids chan string) time.Duration {
				start := time.Now()
				if _, err := st.Pool().Exec(ctx, `DELETE FROM auth_vault WHERE id = $1`, <-ids); err != nil {
					b.Error(err)
				}
				return time.Since(start)
			}
			one := func() {
				f, n := del(feed, feedIDs), del(notify, notifyIDs)
				mu.Lock()
				feedTook, notifyTook = append(feedTook, f), append(notifyTook, n)
				mu.Unlock()
			}
			b.ResetTimer()
			if mode == "serial" {
				for range b.N {
					one()
				}
			} else {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						one()
					}
				})
			}
			b.StopTimer()
			for name, took := range map[string][]time.Duration{"feed": feedTook, "notify": notifyTook} {
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2].Microseconds()), name+"-p50-µs")
				b.ReportMetric(float64(took[len(took)*9/10].Microseconds()), name+"-p90-µs")
			}
		})
	}
}

// BenchmarkMissPathQueries: the database work of an access-token cache miss: read the
// row (get), and read it then lock it, write it back and commit as a refresh does
// (get+update; no Keycloak call). With pgx's default statement cache and with the exec
// mode that transaction pooling needs (no named prepared statements), directly and
// through PgBouncer.
func BenchmarkMissPathQueries(b *testing.B) {
	for _, c := range []struct {
		name      string
		pgbouncer bool
		txPooling bool
	}{{"direct/cache_statement", false, false}, {"direct/exec", false, true}, {"pgbouncer/exec", true, true}} {
		for _, op := range []string{"get", "get+update"} {
			b.Run(c.name+"/"+op, func(b *testing.B) {
				db := testenv.Database(b)
				mst := benchStore(b, db, store.Options{})
				m, err := mst.NewMigrator()
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				ctx := context.Background()
				if _, err := m.Up(ctx); err != nil {
					b.Fatal(err)
				}
				ids := seedRows(b, mst, 100)
				if c.pgbouncer {
					db = testenv.ThroughPgBouncer(b, db)
				}
				u, _ := url.Parse(db)
				st := benchStore(b, u.String(), store.Options{TransactionPooling: c.txPooling})
				b.ResetTimer()
				for i := range b.N {
					id := ids[i%len(ids)]
					if _, err := st.Get(ctx, id); err != nil {
						b.Fatal(err)
					}
					if op == "get" {
						continue
					}
					if _, err := st.Update(ctx, id, func(_ context.Context, cur store.Row, _ *store.Access) (store.Change, error) {
						return store.Change{Row: cur}, nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
