package store

import (
	"context"
	"errors"
	"fmt"
	"time"
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

const sampleSQL = `SELECT ` + rowColumns + ` FROM auth_vault ORDER BY coalesce(updated_at, created_at) DESC LIMIT $1`

// Sample returns up to n rows, the most recently written first.
func (s *Store) Sample(ctx context.Context, n int) ([]Row, error) {
	rows, err := s.pool.Query(ctx, sampleSQL, n)
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
