package testenv

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/devstack"
)

var (
	loadOnce sync.Once
	loaded   config.Config
	loadErr  error
)

// RepoRoot is the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Integration marks t as needing the local stack: skipped under -short, and otherwise
// failed (never skipped) when the stack does not answer.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the local stack (make stack-up); skipped by -short")
	}
}

// Config is the configuration of the local stack: deploy/dev.env, with the process
// environment winning. It is loaded once per test binary.
func Config(t testing.TB) config.Config {
	t.Helper()
	Integration(t)
	loadOnce.Do(func() {
		var stack *devstack.Stack
		if stack, loadErr = devstack.Load(filepath.Join(RepoRoot(), "deploy", "dev.env"), os.LookupEnv); loadErr == nil {
			loaded = stack.Config
		}
	})
	if loadErr != nil {
		t.Fatalf("testenv: %v", loadErr)
	}
	c := loaded
	c.HTTP.ShutdownTimeout = 5 * time.Second
	return c
}

// Database creates a fresh, empty database on the stack's PostgreSQL, returns its URL
// and drops it when the test ends.
func Database(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, drop, err := devstack.CreateDatabase(ctx, Config(t).Database.URL.Reveal(), "am_test_")
	Must(t, err, "database")
	t.Cleanup(func() {
		if err := drop(context.Background()); err != nil {
			t.Logf("testenv: %v", err)
		}
	})
	return u
}

// Env returns an environment variable or a default.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Must fails the test on err.
func Must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("testenv: %s: %v", what, err)
	}
}

// DiscardLogger is a logger that writes nowhere.
func DiscardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
