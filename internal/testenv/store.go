package testenv

import (
	"context"
	"testing"

	"github.com/auth-manager/auth-manager/internal/store"
)

// MigratedStore opens a store with at most maxConns connections on a fresh database
// (see Database), migrated to the newest schema, closed when the test ends.
func MigratedStore(t testing.TB, maxConns int) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{URL: Database(t), MaxConns: maxConns}, DiscardLogger())
	if err != nil {
		t.Fatalf("testenv: open store: %v", err)
	}
	t.Cleanup(st.Close)
	m, err := st.NewMigrator()
	if err != nil {
		t.Fatalf("testenv: migrator: %v", err)
	}
	defer m.Close()
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatalf("testenv: migrate up: %v", err)
	}
	return st
}
