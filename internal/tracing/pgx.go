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
