// Package requestid carries the request id (X-Request-ID) in a context, so that every
// log line and audit event of a request can name it. It knows nothing else.
package requestid

import "context"

type ctxKey struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the request id in ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}
