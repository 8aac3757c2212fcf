package harness

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/tokens"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// MissRun is the access-token cache-miss path measured at one concurrency: every call
// refreshes a row drawn at random from the whole vault.
type MissRun struct {
	Concurrency, Calls int
	Elapsed            time.Duration
	P50, P90, P99, Max time.Duration
	// Hit and Read are the shared buffers the calls touched in the database's tables and
	// indexes (pg_statio_user_tables), found in PostgreSQL's cache and read in.
	Hit, Read int64
}

// missMinTTL is beyond the life of every access token the fake Keycloak issues
// (300 s), so that a stored token never answers and every call is a refresh.
const missMinTTL = time.Hour

// runMiss measures POST /v1/access-token on a cache miss in-process: tokens.Service with
// its in-memory cache off, over vault.Service and a pool of the service's default size,
// against a fake Keycloak answering after latency. Each call asks for the token of a row
// drawn at random among the rows that can be refreshed (active, sealed with an integrity
// tag) with a min_ttl that forces a refresh: the stored-token read, the row lock,
// opening the sealed token, the refresh grant, sealing and writing the successor and the
// access token, commit. Calls are spread over each concurrency's workers; each
// concurrency runs calls calls, after as many uncounted ones: they open the pool's
// connections, and bring PostgreSQL's cache to the state of a service that has been
// serving a while (the indexes' inner pages and the pages the updates write to are in
// it; a random row's heap and TOAST pages, at a million rows, mostly not). Right after
// the migration and the VACUUM the indexes are not in it at all, and the first
// thousands of calls read several times the buffers of the later ones.
func runMiss(ctx context.Context, url string, ring *seal.Ring, latency time.Duration, calls int, concurrency []int) ([]MissRun, error) {
	discard := slog.New(slog.DiscardHandler)
	// The service's defaults: DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW connections,
	// AUTH_MANAGER_KEYCLOAK_CONCURRENCY refreshes at once.
	st, err := store.Open(ctx, store.Options{URL: url, MaxConns: 30}, discard)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ids, err := refreshableIDs(ctx, st)
	if err != nil {
		return nil, err
	}
	fk := newFakeKeycloak(latency)
	defer fk.srv.Close()
	kc := keycloak.New(keycloak.Options{IssuerURL: fk.issuer(), ClientID: "auth-manager", ClientSecret: "bench",
		Timeout: 10 * time.Second}, discard)
	if _, err := kc.OAuth2(ctx); err != nil {
		return nil, err
	}
	v := vault.New(st, ring, kc, vault.Options{Log: discard, KeycloakConcurrency: 8, SlotWait: 10 * time.Second})
	ts := tokens.New(v, kc, tokens.Options{CacheSize: 0, Log: discard})
	svc := caller.Caller{Subject: "bench-service", ClientID: "bench", Service: true}
	call := func(id string) error {
		_, err := ts.AccessToken(ctx, svc, id, missMinTTL)
		return err
	}

	var runs []MissRun
	for _, c := range concurrency {
		if _, err := missCalls(ids, calls, c, call); err != nil {
			return nil, err
		}
		hit0, read0, err := statio(ctx, st)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		samples, err := missCalls(ids, calls, c, call)
		if err != nil {
			return nil, err
		}
		run := MissRun{Concurrency: c, Calls: calls, Elapsed: time.Since(start)}
		slices.Sort(samples)
		run.P50, run.P90, run.P99 = Percentile(samples, 50), Percentile(samples, 90), Percentile(samples, 99)
		run.Max = samples[len(samples)-1]
		// A backend reports its counters when idle, at most once a second.
		time.Sleep(2 * time.Second)
		hit1, read1, err := statio(ctx, st)
		if err != nil {
			return nil, err
		}
		run.Hit, run.Read = hit1-hit0, read1-read0
		runs = append(runs, run)
	}
	return runs, nil
}

// missCalls makes n calls, each for a row drawn at random from ids, over c workers, and
// returns each call's duration. The first failure ends the run: a figure that counts
// failed calls would not be the refresh path's.
func missCalls(ids []string, n, c int, call func(id string) error) ([]time.Duration, error) {
	samples := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var failure error
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				id := ids[rand.IntN(len(ids))]
				start := time.Now()
				if err := call(id); err != nil {
					once.Do(func() { failure = fmt.Errorf("access token of row %s: %w", id, err) })
					next.Store(int64(n))
					return
				}
				samples[i] = time.Since(start)
			}
		})
	}
	wg.Wait()
	return samples, failure
}

// refreshableIDs are the rows a refresh succeeds on: active, sealed with an integrity
// tag (a legacy row's random token is not a JWT, which the vault refuses to open). The
// sequential scan goes through a ring of a few buffers, so it does not fill PostgreSQL's
// cache with the table.
func refreshableIDs(ctx context.Context, st *store.Store) ([]string, error) {
	rows, err := st.Pool().Query(ctx, `SELECT id::text FROM auth_vault WHERE status = 'active' AND mac IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err == nil && len(ids) == 0 {
		err = fmt.Errorf("no refreshable row in the vault")
	}
	return ids, err
}

// statio sums the shared buffers found in PostgreSQL's cache (hit) and read in (read)
// over every table of the database, their TOAST tables and indexes included.
func statio(ctx context.Context, st *store.Store) (hit, read int64, err error) {
	err = st.Pool().QueryRow(ctx, `
SELECT coalesce(sum(heap_blks_hit + coalesce(idx_blks_hit, 0) + coalesce(toast_blks_hit, 0) + coalesce(tidx_blks_hit, 0)), 0)::bigint,
       coalesce(sum(heap_blks_read + coalesce(idx_blks_read, 0) + coalesce(toast_blks_read, 0) + coalesce(tidx_blks_read, 0)), 0)::bigint
FROM pg_statio_user_tables`).Scan(&hit, &read)
	return hit, read, err
}
