package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-manager/auth-manager/internal/config"
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
		var getenv config.Getenv
		if getenv, loadErr = config.WithDotEnv(filepath.Join(RepoRoot(), "deploy", "dev.env"), os.LookupEnv); loadErr == nil {
			loaded, loadErr = config.Load(getenv, "test")
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
	cfg := Config(t)
	admin := cfg.Database.URL.Reveal()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL at DATABASE_URL does not answer (run `make stack-up`): %v", err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "am_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
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
