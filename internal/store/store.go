package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sentinel errors of the store. Callers compare with errors.Is.
var (
	// ErrNotFound means no row matched.
	ErrNotFound = errors.New("store: not found")
	// ErrUnavailable means the database could not be reached or failed to answer.
	ErrUnavailable = errors.New("store: database unavailable")
)

// Options configures the pool.
type Options struct {
	URL         string
	MaxConns    int
	MinConns    int
	ConnTimeout time.Duration // to establish one connection (DATABASE_POOL_TIMEOUT)
	Echo        bool          // log every statement's SQL (never its arguments) at debug level
	// Tracer, when set, traces every query (OpenTelemetry spans; see internal/tracing).
	Tracer pgx.QueryTracer
	// TransactionPooling says that URL is a pooler in transaction mode (PgBouncer's
	// pool_mode = transaction), where consecutive transactions of one connection may run
	// on different server connections: queries then use no named prepared statement
	// (pgx's exec mode, unless the URL sets default_query_exec_mode) and migrations are
	// serialised by a lock row instead of a session advisory lock.
	TransactionPooling bool
}

// Store wraps the pgx pool.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// txPooling: see Options.TransactionPooling.
	txPooling bool
}

// Open creates the pool. It does not wait for the database: the service starts and
// reports unready until the database answers.
func Open(ctx context.Context, opt Options, log *slog.Logger) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(opt.URL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, errors.New("store: DATABASE_URL cannot be parsed as a PostgreSQL connection string")
	}
	cfg.MaxConns = int32(opt.MaxConns)
	cfg.MinConns = int32(opt.MinConns)
	if opt.ConnTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = opt.ConnTimeout
	}
	if opt.TransactionPooling && !strings.Contains(opt.URL, "default_query_exec_mode") {
		// Named prepared statements live on one server connection; the next
		// transaction may run on another, which does not know them.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 15 * time.Second
	var tracers []pgx.QueryTracer
	if opt.Echo {
		tracers = append(tracers, sqlTracer{log: log})
	}
	if opt.Tracer != nil {
		tracers = append(tracers, opt.Tracer)
	}
	switch len(tracers) {
	case 1:
		cfg.ConnConfig.Tracer = tracers[0]
	case 2:
		cfg.ConnConfig.Tracer = multitracer.New(tracers...)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: create pool: %w", err)
	}
	return &Store{pool: pool, log: log, txPooling: opt.TransactionPooling}, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() { s.pool.Close() }

// Pool exposes the pool to the migration runner and to tests of this module.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

const versionSQL = `SELECT version()`

// Version returns the server's version string.
func (s *Store) Version(ctx context.Context) (string, error) {
	var v string
	if err := s.pool.QueryRow(ctx, versionSQL).Scan(&v); err != nil {
		return "", wrap("version", err)
	}
	return v, nil
}

// sqlTracer logs statements for DATABASE_ECHO. It logs the SQL text only: arguments
// carry ciphertext and must never reach a log.
type sqlTracer struct{ log *slog.Logger }

type traceKey struct{}

type traceStart struct {
	sql   string
	start time.Time
}

func (t sqlTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{sql: d.SQL, start: time.Now()})
}

func (t sqlTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	st, _ := ctx.Value(traceKey{}).(traceStart)
	t.log.DebugContext(ctx, "sql", "sql", st.sql, "duration_ms", time.Since(st.start).Milliseconds(),
		"rows", d.CommandTag.RowsAffected(), "failed", d.Err != nil)
}

// The batch methods make sqlTracer a pgx.BatchTracer: each statement of a batch is
// logged as it completes (otherwise pgx reports a batch's rows to TraceQueryEnd
// without a start).
func (t sqlTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{start: time.Now()})
}

func (t sqlTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	t.log.DebugContext(ctx, "sql", "sql", d.SQL, "batch", true, "rows", d.CommandTag.RowsAffected(), "failed", d.Err != nil)
}

func (t sqlTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	st, _ := ctx.Value(traceKey{}).(traceStart)
	t.log.DebugContext(ctx, "sql batch", "duration_ms", time.Since(st.start).Milliseconds(), "failed", d.Err != nil)
}

// ErrDatabase means the database answered with an error (a failed statement), as
// opposed to not answering at all (ErrUnavailable).
var ErrDatabase = errors.New("store: database error")

// wrap classifies a pgx error: a server-side error is ErrDatabase, anything else
// (connection refused, timeout, pool closed) is ErrUnavailable. pgx.ErrNoRows is
// ErrNotFound.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Connection exceptions (08), resource exhaustion (53) and operator intervention
		// (57: shutdown, terminated backend) mean the database is not there for us, not
		// that the statement was wrong.
		switch pgErr.Code[:min(2, len(pgErr.Code))] {
		case "08", "53", "57":
			return fmt.Errorf("%w: %s: %s (SQLSTATE %s)", ErrUnavailable, op, pgErr.Message, pgErr.Code)
		}
		return fmt.Errorf("%w: %s: %s (SQLSTATE %s)", ErrDatabase, op, pgErr.Message, pgErr.Code)
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
}
