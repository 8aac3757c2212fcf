package reqinfo_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/clientip"
	"github.com/auth-manager/auth-manager/internal/reqinfo"
	"github.com/auth-manager/auth-manager/internal/requestid"
)

var alice = caller.Caller{Subject: "alice-id", SessionID: "sid-1", ClientID: "frontend", Username: "alice"}

// TestReadersSeeInfo: the three readers find the values of an Info, the caller only
// once it is set, and values put with the old With functions over it win (the inner
// value wins, as between two With calls).
func TestReadersSeeInfo(t *testing.T) {
	ctx, info := reqinfo.New(context.Background(), "req-1", "203.0.113.7")
	require.NotNil(t, info)
	assert.Same(t, info, reqinfo.From(ctx))
	assert.Equal(t, "req-1", requestid.From(ctx))
	assert.Equal(t, "203.0.113.7", clientip.From(ctx))
	assert.Equal(t, []string{"req-1"}, info.IDHeader())
	_, ok := caller.From(ctx)
	assert.False(t, ok, "no caller before SetCaller")

	require.True(t, info.SetCaller(alice))
	c, ok := caller.From(ctx)
	assert.True(t, ok)
	assert.Equal(t, alice, c)
	assert.False(t, info.SetCaller(caller.Caller{Subject: "mallory"}), "the caller is set once")
	c, _ = caller.From(ctx)
	assert.Equal(t, alice, c)

	over := caller.With(clientip.With(requestid.With(ctx, "req-2"), "198.51.100.4"), caller.Caller{Subject: "bob"})
	assert.Equal(t, "req-2", requestid.From(over))
	assert.Equal(t, "198.51.100.4", clientip.From(over))
	c, _ = caller.From(over)
	assert.Equal(t, "bob", c.Subject)
	assert.Same(t, info, reqinfo.From(over), "found through other values")
}

// TestInfoOverWith: an Info answers only for its own values; what it has not (the
// caller before SetCaller, any other key) comes from the context under it.
func TestInfoOverWith(t *testing.T) {
	type otherKey struct{}
	base := context.WithValue(caller.With(context.Background(), alice), otherKey{}, "other")
	ctx, info := reqinfo.New(base, "req-1", "")
	c, ok := caller.From(ctx)
	assert.True(t, ok)
	assert.Equal(t, alice, c, "the caller of the parent")
	assert.Equal(t, "other", ctx.Value(otherKey{}))
	assert.Equal(t, "", clientip.From(ctx), "an empty IP is the Info's, not looked up further")
	assert.Nil(t, reqinfo.From(base))

	require.True(t, info.SetCaller(caller.Caller{Subject: "bob"}))
	c, _ = caller.From(ctx)
	assert.Equal(t, "bob", c.Subject, "the Info's own caller, once set, is nearer")
}

// TestCancellation: an Info is cancelled with its parent, and contexts derived from
// it are cancelled with it.
func TestCancellation(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.Background())
	ctx, _ := reqinfo.New(parent, "req-1", "")
	child, stop := context.WithCancel(ctx)
	defer stop()
	assert.NoError(t, ctx.Err())
	cancel(context.DeadlineExceeded)
	<-child.Done()
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
	assert.ErrorIs(t, context.Cause(child), context.DeadlineExceeded)
}

// TestSetCallerWhileRead: a goroutine holding the context from before SetCaller (as
// the detached introspection does) sees no caller or the whole caller, never part of
// one. Run with -race, this is also the check that the publication is synchronised.
func TestSetCallerWhileRead(t *testing.T) {
	for range 200 {
		ctx, info := reqinfo.New(context.Background(), "req-1", "")
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if c, ok := caller.From(ctx); ok && c != alice {
					t.Errorf("torn caller %+v", c)
					return
				}
			}
		}()
		info.SetCaller(alice)
		wg.Wait()
	}
}

// TestOneAllocation: the id, the client IP and the caller cost one allocation, and
// reading them none.
func TestOneAllocation(t *testing.T) {
	parent := context.Background()
	var ctx context.Context
	allocs := testing.AllocsPerRun(100, func() {
		var info *reqinfo.Info
		ctx, info = reqinfo.New(parent, "req-1", "203.0.113.7")
		info.SetCaller(alice)
	})
	assert.Equal(t, 1.0, allocs)
	allocs = testing.AllocsPerRun(100, func() {
		_ = requestid.From(ctx)
		_ = clientip.From(ctx)
		_, _ = caller.From(ctx)
	})
	assert.Zero(t, allocs)
}
