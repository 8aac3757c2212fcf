package caller_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/caller"
)

func TestWithFrom(t *testing.T) {
	_, ok := caller.From(context.Background())
	assert.False(t, ok)
	alice := caller.Caller{Subject: "alice-id", SessionID: "sid", ClientID: "frontend", Username: "alice", Scope: "openid", ExpiresAt: 1}
	ctx := caller.With(context.Background(), alice)
	c, ok := caller.From(ctx)
	assert.True(t, ok)
	assert.Equal(t, alice, c)
	c, _ = caller.From(caller.With(ctx, caller.Caller{Subject: "svc", Service: true}))
	assert.Equal(t, caller.Caller{Subject: "svc", Service: true}, c, "the inner caller wins")
	type otherKey struct{}
	c, ok = caller.From(context.WithValue(ctx, otherKey{}, 1))
	assert.True(t, ok, "found through other values")
	assert.Equal(t, alice, c)
}
