package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// The checks `auth-manager doctor` runs against the database. None of them changes
// anything.

// Versions returns the schema version the database is at and the newest one this
// binary carries.
func (m *Migrator) Versions(ctx context.Context) (current, latest int64, err error) {
	current, latest, err = m.provider.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("store: migration versions: %w", err)
	}
	return current, latest, nil
}

// A sample is a walk of the primary key from a random id, wrapping round at the end:
// limit index probes and heap fetches, whatever the table holds. Ids are random
// (UUIDv4), so consecutive ids are unrelated rows.
const (
	sampleSQL = `(SELECT ` + rowColumns + ` FROM auth_vault WHERE id >= $1 ORDER BY auth_vault.id LIMIT $2)
UNION ALL (SELECT ` + rowColumns + ` FROM auth_vault WHERE id < $1 ORDER BY auth_vault.id LIMIT $2) LIMIT $2`
	sampleLegacySQL = `(SELECT ` + rowColumns + ` FROM auth_vault WHERE key_id IS NULL AND id >= $1 ORDER BY key_id, auth_vault.id LIMIT $2)
UNION ALL (SELECT ` + rowColumns + ` FROM auth_vault WHERE key_id IS NULL AND id < $1 ORDER BY key_id, auth_vault.id LIMIT $2) LIMIT $2`
)

// Sample returns up to n rows from the id from on (a random UUID gives a random
// sample), or only legacy rows (no integrity tag).
func (s *Store) Sample(ctx context.Context, from string, n int, legacy bool) ([]Row, error) {
	if uuid.Validate(from) != nil {
		from = uuid.Nil.String()
	}
	q := sampleSQL
	if legacy {
		q = sampleLegacySQL
	}
	rows, err := s.pool.Query(ctx, q, from, n)
	return collect(rows, wrap("sample", err))
}

// ErrNoNotification is a LISTEN that never heard its own NOTIFY.
var ErrNoNotification = errors.New("store: LISTEN heard no NOTIFY")

// ListenRoundTrip LISTENs on one connection, NOTIFYs from another and waits for the
// notification: what the access-token cache's eviction feed needs. A connection pooler
// in transaction mode accepts LISTEN but never delivers.
func (s *Store) ListenRoundTrip(ctx context.Context, wait time.Duration) error {
	const channel = "auth_manager_doctor"
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrap("listen", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return wrap("listen", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+channel) }()
	payload := fmt.Sprintf("doctor-%d", time.Now().UnixNano())
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
		return wrap("notify", err)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		n, err := conn.Conn().WaitForNotification(wctx)
		if err != nil {
			return fmt.Errorf("%w within %s", ErrNoNotification, wait)
		}
		if n.Payload == payload {
			return nil
		}
	}
}
