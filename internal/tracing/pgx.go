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
// what it does ("db SELECT FOR UPDATE", "db COMMIT" …). The statement's text is kept;
// its arguments (ciphertext, hashes, ids) never are.
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

// TraceBatchStart starts one span for a batch ("db BATCH"). Implementing pgx's
// BatchTracer also keeps pgx from calling TraceQueryEnd for a batch's rows, which
// would end the caller's span (there is no query span to end).
func (q queryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	n := 0
	if d.Batch != nil {
		n = d.Batch.Len()
	}
	ctx, _ = q.tracer.Start(ctx, "db BATCH", trace.WithSpanKind(trace.SpanKindClient),
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

// operation is the statement's verb, with FOR UPDATE (a row lock) called out.
func operation(sql string) string {
	f := strings.Fields(sql)
	if len(f) == 0 {
		return "query"
	}
	op := strings.ToUpper(f[0])
	if op == "WITH" || op == "SELECT" {
		if strings.Contains(strings.ToUpper(sql), "FOR UPDATE") {
			return "SELECT FOR UPDATE"
		}
	}
	return op
}
