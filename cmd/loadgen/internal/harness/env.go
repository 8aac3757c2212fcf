package harness

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the stack's environment: an env file (deploy/dev.env) under the process
// environment, which wins, as the service itself reads it.
type Env map[string]string

// LoadEnv reads KEY=VALUE lines of path (comments, blank lines and `export ` allowed,
// values optionally quoted), then lays the process environment over them.
func LoadEnv(path string) (Env, error) {
	e := Env{}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s line %d: expected KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		e[strings.TrimSpace(k)] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, known := e[k]; known {
				e[k] = v
			}
		}
	}
	return e, nil
}

// Need returns the value of key or an error naming it.
func (e Env) Need(key string) (string, error) {
	if v := e[key]; v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s is not set (env file or environment)", key)
}

// Child returns a complete environment for a child process: the process environment,
// then e, then overrides (later entries win in os/exec).
func (e Env) Child(overrides map[string]string) []string {
	out := os.Environ()
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	for k, v := range overrides {
		out = append(out, k+"="+v)
	}
	return out
}

// KeycloakBase splits KEYCLOAK_ISSUER (a base URL or a realm URL …/realms/NAME) and
// KEYCLOAK_REALM into the base URL and the realm, as the service does.
func (e Env) KeycloakBase() (base, realm string, err error) {
	iss, err := e.Need("KEYCLOAK_ISSUER")
	if err != nil {
		return "", "", err
	}
	iss = strings.TrimSuffix(iss, "/")
	if b, r, ok := strings.Cut(iss, "/realms/"); ok {
		return b, r, nil
	}
	realm, err = e.Need("KEYCLOAK_REALM")
	return iss, realm, err
}

// loopbackOnly refuses a URL whose host is not a loopback address: the harness loads
// only the local stack.
func loopbackOnly(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: not a URL", name)
	}
	switch h := u.Hostname(); h {
	case "127.0.0.1", "localhost", "::1":
		return nil
	default:
		return fmt.Errorf("%s points at %q; the harness only loads loopback addresses", name, h)
	}
}

// CreateDatabase creates a fresh database through the role of adminURL (which needs
// CREATEDB) and returns its URL and a function that drops it.
func CreateDatabase(ctx context.Context, adminURL string) (string, func(context.Context) error, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("PostgreSQL at DATABASE_URL does not answer (make stack-up): %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "loadgen_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	drop := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return err
		}
		defer c.Close(context.WithoutCancel(ctx))
		_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	}
	return u.String(), drop, nil
}
