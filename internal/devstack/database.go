package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// dbPrefix is what a database name may start with: it is spliced into SQL.
var dbPrefix = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// CreateDatabase creates a fresh, empty database named prefix followed by 12 random
// hex digits, through the role of adminURL (which needs CREATEDB), and returns its URL
// and a function that drops it, open connections and all. prefix names who made it
// (e.g. "am_test_"), so that leftovers can be told apart.
func CreateDatabase(ctx context.Context, adminURL, prefix string) (dbURL string, drop func(context.Context) error, err error) {
	if !dbPrefix.MatchString(prefix) {
		return "", nil, fmt.Errorf("devstack: database prefix %q is not lower-case letters, digits and _", prefix)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("devstack: DATABASE_URL is not a URL")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if err := adminExec(ctx, adminURL, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("devstack: create database: %w", err)
	}
	u.Path = "/" + name
	drop = func(ctx context.Context) error {
		if err := adminExec(ctx, adminURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("devstack: drop database %s: %w", name, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

// adminExec runs one statement on its own connection of adminURL's role.
func adminExec(ctx context.Context, adminURL, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("PostgreSQL at DATABASE_URL does not answer (make stack-up): %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
