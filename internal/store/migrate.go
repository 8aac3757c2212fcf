package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

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
	// Several replicas may start at once: a lock makes them migrate one after the other
	// instead of racing. A session advisory lock goes with its connection if the process
	// dies; behind a transaction pooler the lock and its release may run on different
	// server connections, so there goose's lock row (table goose_lock, a 30 s lease
	// renewed every 5 s) serialises them instead.
	var locking goose.ProviderOption
	if s.txPooling {
		locker, err := lock.NewPostgresTableLocker(lock.WithTableLogger(s.log), lock.WithTableLockTimeout(time.Second, 300))
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("store: migrations lock: %w", err)
		}
		locking = goose.WithLocker(locker)
	} else {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("store: migrations lock: %w", err)
		}
		locking = goose.WithSessionLocker(locker)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, locking)
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

// DownPlan is what Down would do: roll back migration File (schema version Version)
// by running SQL, the migration's Down section.
type DownPlan struct {
	Version int64
	File    string
	SQL     string
}

// PlanDown says what Down would roll back; ok is false when no migration is applied.
func (m *Migrator) PlanDown(ctx context.Context) (plan DownPlan, ok bool, err error) {
	v, err := m.Version(ctx)
	if err != nil || v == 0 {
		return DownPlan{}, false, err
	}
	for _, src := range m.provider.ListSources() {
		if src.Version != v {
			continue
		}
		raw, err := fs.ReadFile(migrations.FS, src.Path)
		if err != nil {
			return DownPlan{}, false, fmt.Errorf("store: migration %d: %w", v, err)
		}
		return DownPlan{Version: v, File: path.Base(src.Path), SQL: downSection(string(raw))}, true, nil
	}
	return DownPlan{}, false, fmt.Errorf("store: schema version %d is not a migration of this build", v)
}

// downSection is the SQL after a goose file's "-- +goose Down" line, without goose's
// own annotations.
func downSection(file string) string {
	_, down, found := strings.Cut(file, "-- +goose Down")
	if !found {
		return ""
	}
	var out []string
	for _, line := range strings.Split(down, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "-- +goose ") {
			continue
		}
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
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
