package testenv

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/store"
)

// MigratedStore opens a store with at most maxConns connections on a fresh database
// (see Database), migrated to the newest schema, closed when the test ends.
func MigratedStore(t testing.TB, maxConns int) *store.Store {
	t.Helper()
	st := openStore(t, Database(t), maxConns)
	migrate(t, st)
	return st
}

// MigratedDatabase is the URL of a fresh database (see Database) migrated to the
// newest schema, for tests that open several stores on it (Replica).
func MigratedDatabase(t testing.TB) string {
	t.Helper()
	dbURL := Database(t)
	migrate(t, Replica(t, dbURL, "migrate"))
	return dbURL
}

// Replica is one process's view of the database at dbURL: a store of its own (at most
// 4 connections), named name in pg_stat_activity (application_name), closed when the
// test ends.
func Replica(t testing.TB, dbURL, name string) *store.Store {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("testenv: database URL: %v", err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return openStore(t, u.String(), 4)
}

// Within waits up to limit for cond and returns how long it took (-1 when it never
// held).
func Within(limit time.Duration, cond func() bool) time.Duration {
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
	return -1
}

func openStore(t testing.TB, dbURL string, maxConns int) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{URL: dbURL, MaxConns: maxConns}, DiscardLogger())
	if err != nil {
		t.Fatalf("testenv: open store: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

func migrate(t testing.TB, st *store.Store) {
	t.Helper()
	m, err := st.NewMigrator()
	if err != nil {
		t.Fatalf("testenv: migrator: %v", err)
	}
	defer m.Close()
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatalf("testenv: migrate up: %v", err)
	}
}
