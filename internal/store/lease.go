package store

import (
	"context"
	"time"
)

// Coordination between replicas without session state (migration 8): each call is one
// statement, so it works through any connection pooler, and nothing stays held when a
// replica dies. Both use the database's clock, which every replica shares.

const leaseSQL = `
INSERT INTO job_lease (name, holder, expires_at) VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE job_lease.holder = excluded.holder OR job_lease.expires_at < clock_timestamp()
RETURNING holder`

// TryLease takes or renews the lease name for holder for ttl and reports whether
// holder has it: it does while it renews within ttl; once the lease has expired, the
// first replica to ask takes it over.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, leaseSQL, name, holder, ttl.Seconds())
	if err != nil {
		return false, wrap("lease", err)
	}
	return tag.RowsAffected() == 1, nil
}

const releaseLeaseSQL = `DELETE FROM job_lease WHERE name = $1 AND holder = $2`

// ReleaseLease gives up holder's lease name, if it holds it, so that another replica
// takes it over at its next attempt instead of after the lease's expiry.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.pool.Exec(ctx, releaseLeaseSQL, name, holder)
	return wrap("release lease", err)
}

// takeSlotSQL reserves the next slot of rate name, spaced interval after the last one
// reserved, and answers how many seconds from now it starts (≤ 0: now). A slot never
// starts before the database's present: unused time builds up no credit.
const takeSlotSQL = `
INSERT INTO job_rate (name, next_at) VALUES ($1, clock_timestamp() + make_interval(secs => $2))
ON CONFLICT (name) DO UPDATE SET next_at = greatest(job_rate.next_at, clock_timestamp()) + make_interval(secs => $2)
RETURNING extract(epoch FROM next_at - clock_timestamp())::float8 - $2`

// TakeSlot reserves one slot of the rate name shared by every replica, whose slots are
// interval apart, and returns how long to wait before using it. Callers that wait out
// the delay and then act never act more often than once per interval together.
func (s *Store) TakeSlot(ctx context.Context, name string, interval time.Duration) (time.Duration, error) {
	var wait float64
	if err := s.pool.QueryRow(ctx, takeSlotSQL, name, interval.Seconds()).Scan(&wait); err != nil {
		return 0, wrap("rate slot", err)
	}
	return max(time.Duration(wait*float64(time.Second)), 0), nil
}
