package tracing

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// QueryTracer is pgx's tracer interface recording one client span per query, named for
// what it does ("db SELECT FOR NO KEY UPDATE", "db COMMIT" …), and one per batch named
// for its statements in order ("db BEGIN; SELECT FOR NO KEY UPDATE; SELECT"). The
// statement's text is kept; its arguments (ciphertext, hashes, ids) never are.
func QueryTracer(tp trace.TracerProvider) pgx.QueryTracer {
	return queryTracer{tracer: tp.Tracer("github.com/auth-manager/auth-manager/internal/store")}
}

type queryTracer struct{ tracer trace.Tracer }

func (q queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	ctx, _ = q.tracer.Start(ctx, "db "+operation(d.SQL), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("db.statement", d.SQL)))
	return ctx
}

func (q queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	span := trace.SpanFromContext(ctx)
	if d.Err != nil {
		span.SetStatus(codes.Error, "query failed")
	} else {
		span.SetAttributes(attribute.Int64("db.rows_affected", d.CommandTag.RowsAffected()))
	}
	span.End()
}

// TraceBatchStart starts one span for a batch, named for its statements ("db BEGIN;
// SELECT FOR NO KEY UPDATE; SELECT"): a transaction sent in two batches reads as two
// spans whose names say where it begins and commits. Implementing pgx's BatchTracer
// also keeps pgx from calling TraceQueryEnd for a batch's rows, which would end the
// caller's span (there is no query span to end).
func (q queryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	name, n := "db BATCH", 0
	if d.Batch != nil {
		n = d.Batch.Len()
		ops := make([]string, 0, n)
		for _, qq := range d.Batch.QueuedQueries {
			ops = append(ops, operation(qq.SQL))
		}
		if n > 0 {
			name = "db " + strings.Join(ops, "; ")
		}
	}
	ctx, _ = q.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.Int("db.batch.size", n)))
	return ctx
}

// TraceBatchQuery records each statement of the batch as an event of its span (the
// statement's text, never its arguments).
func (q queryTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	span := trace.SpanFromContext(ctx)
	span.AddEvent("db "+operation(d.SQL), trace.WithAttributes(attribute.String("db.statement", d.SQL),
		attribute.Int64("db.rows_affected", d.CommandTag.RowsAffected()), attribute.Bool("failed", d.Err != nil)))
	if d.Err != nil {
		span.SetStatus(codes.Error, "query failed")
	}
}

// TraceBatchEnd ends the batch's span.
func (q queryTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	span := trace.SpanFromContext(ctx)
	if d.Err != nil {
		span.SetStatus(codes.Error, "batch failed")
	}
	span.End()
}

// operation is the statement's verb, with a row lock called out (FOR UPDATE, FOR NO
// KEY UPDATE).
func operation(sql string) string {
	f := strings.Fields(sql)
	if len(f) == 0 {
		return "query"
	}
	op := strings.ToUpper(f[0])
	if op == "WITH" || op == "SELECT" {
		upper := strings.ToUpper(strings.Join(f, " "))
		for _, lock := range []string{"FOR NO KEY UPDATE", "FOR UPDATE"} {
			if strings.Contains(upper, lock) {
				return "SELECT " + lock
			}
		}
	}
	return op
}
