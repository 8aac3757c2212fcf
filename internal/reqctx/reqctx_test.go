package reqctx_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/reqctx"
)

func TestEmptyContext(t *testing.T) {
	ctx := context.Background()
	assert.Equal(t, "", reqctx.RequestID(ctx))
	assert.Equal(t, "", reqctx.ClientIP(ctx))
	_, ok := reqctx.Caller(ctx)
	assert.False(t, ok)
}

func TestValues(t *testing.T) {
	alice := caller.Caller{Subject: "alice-id", SessionID: "sid", ClientID: "frontend", Username: "alice", Scope: "openid", ExpiresAt: 1}
	ctx := reqctx.WithCaller(reqctx.WithClientIP(reqctx.WithRequestID(context.Background(), "req-1"), "203.0.113.7"), alice)
	type otherKey struct{}
	ctx = context.WithValue(ctx, otherKey{}, 1)
	assert.Equal(t, "req-1", reqctx.RequestID(ctx), "found through other values")
	assert.Equal(t, "203.0.113.7", reqctx.ClientIP(ctx))
	c, ok := reqctx.Caller(ctx)
	assert.True(t, ok)
	assert.Equal(t, alice, c)

	inner := reqctx.WithCaller(reqctx.WithRequestID(ctx, "req-2"), caller.Caller{Subject: "svc", Service: true})
	assert.Equal(t, "req-2", reqctx.RequestID(inner), "the inner id wins")
	c, _ = reqctx.Caller(inner)
	assert.Equal(t, caller.Caller{Subject: "svc", Service: true}, c, "the inner caller wins")
	assert.Equal(t, "203.0.113.7", reqctx.ClientIP(inner))
}
