package testenv

import (
	"context"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ThroughPgBouncer returns dbURL at the stack's PgBouncer (transaction mode on
// 127.0.0.1:$PGBOUNCER_PORT, 6432 by default; `scripts/stack.sh up` starts it), which
// reaches every database of the stack's PostgreSQL. The test fails when it does not
// answer.
func ThroughPgBouncer(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	Must(t, err, "database URL")
	u.Host = net.JoinHostPort("127.0.0.1", Env("PGBOUNCER_PORT", "6432"))
	probe := *u
	q := probe.Query()
	q.Set("default_query_exec_mode", "simple_protocol")
	probe.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, probe.String())
	if err == nil {
		_, err = conn.Exec(ctx, "SELECT 1")
		_ = conn.Close(ctx)
	}
	if err != nil {
		t.Fatalf("testenv: PgBouncer at %s does not answer (run `scripts/stack.sh up pgbouncer`): %v", u.Host, err)
	}
	return u.String()
}
