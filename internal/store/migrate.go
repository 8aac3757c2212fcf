package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/auth-manager/auth-manager/migrations"
)

// Migrator runs the embedded goose migrations over the store's pool.
type Migrator struct {
	db       *sql.DB
	provider *goose.Provider
}

// NewMigrator prepares the embedded migrations. Close it when done.
func (s *Store) NewMigrator() (*Migrator, error) {
	db := stdlib.OpenDBFromPool(s.pool)
	// Several replicas may start at once: a session advisory lock makes them migrate
	// one after the other instead of racing.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: migrations lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return &Migrator{db: db, provider: p}, nil
}

// Close releases the migrator's connection wrapper (not the pool).
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration and returns how many ran.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("store: migrate up: %w", err)
	}
	return len(res), nil
}

// UpTo applies the pending migrations up to version and returns how many ran (tools
// that measure a schema before a migration).
func (m *Migrator) UpTo(ctx context.Context, version int64) (int, error) {
	res, err := m.provider.UpTo(ctx, version)
	if err != nil {
		return len(res), fmt.Errorf("store: migrate up to %d: %w", version, err)
	}
	return len(res), nil
}

// Down rolls back the newest applied migration. ok is false when none was applied.
func (m *Migrator) Down(ctx context.Context) (ok bool, err error) {
	_, err = m.provider.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: migrate down: %w", err)
	}
	return true, nil
}

// Version is the newest applied migration (0 when none).
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	v, err := m.provider.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: migration version: %w", err)
	}
	return v, nil
}

// Status writes one line per migration: version, state, file.
func (m *Migrator) Status(ctx context.Context, w io.Writer) error {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return fmt.Errorf("store: migration status: %w", err)
	}
	for _, s := range st {
		applied := "pending"
		if s.State == goose.StateApplied {
			applied = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		name := s.Source.Path
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		fmt.Fprintf(w, "%5d  %-28s  %s\n", s.Source.Version, applied, name)
	}
	return nil
}
