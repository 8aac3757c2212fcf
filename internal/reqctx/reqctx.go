package reqctx

import (
	"context"

	"github.com/auth-manager/auth-manager/internal/caller"
)

type key int

const (
	requestIDKey key = iota
	clientIPKey
	callerKey
)

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithClientIP returns ctx carrying the client's IP address.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey, ip)
}

// ClientIP returns the client's IP address in ctx, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey).(string)
	return ip
}

// WithCaller returns ctx carrying the authenticated caller.
func WithCaller(ctx context.Context, c caller.Caller) context.Context {
	return context.WithValue(ctx, callerKey, c)
}

// Caller returns the caller in ctx; ok is false on an unauthenticated path.
func Caller(ctx context.Context) (c caller.Caller, ok bool) {
	c, ok = ctx.Value(callerKey).(caller.Caller)
	return c, ok
}
