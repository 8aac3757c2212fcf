package tokens

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// feedState is a Feed whose state a test sets.
type feedState struct{ started, fresh bool }

func (f *feedState) Started() bool { return f.started }
func (f *feedState) Fresh() bool   { return f.started && f.fresh }

func upFeed() *feedState { return &feedState{started: true, fresh: true} }

func TestCacheIsBoundedLRU(t *testing.T) {
	c := newCache(3, upFeed())
	now := time.Unix(1000, 0)
	exp := now.Add(time.Hour)
	for i := 0; i < 3; i++ {
		c.put(entry{id: fmt.Sprint(i), expiry: exp})
	}
	_, ok := c.get("0", now, 0) // 0 becomes most recently used
	require.True(t, ok)
	c.put(entry{id: "3", expiry: exp})
	_, ok = c.get("1", now, 0)
	assert.False(t, ok, "the least recently used entry was evicted")
	for _, id := range []string{"0", "2", "3"} {
		_, ok := c.get(id, now, 0)
		assert.True(t, ok, id)
	}
	for i := 0; i < 1000; i++ {
		c.put(entry{id: fmt.Sprint("x", i), expiry: exp})
	}
	st := c.stats()
	assert.Equal(t, 3, st.Size, "memory does not grow with distinct ids")
	assert.EqualValues(t, 1001, st.Evictions)
}

// TestCacheMinTTLAndFeed: nothing is cached before the eviction feed has started;
// a cache whose feed is behind answers nothing but keeps its entries, which answer
// again once the feed is fresh (its replay evicts what changed); a flush drops all.
func TestCacheMinTTLAndFeed(t *testing.T) {
	f := &feedState{}
	c := newCache(10, f)
	now := time.Unix(1000, 0)
	c.put(entry{id: "a", expiry: now.Add(time.Minute)})
	f.started, f.fresh = true, true
	_, ok := c.get("a", now, 0)
	assert.False(t, ok, "nothing is cached before the eviction feed has started")

	c.put(entry{id: "a", expiry: now.Add(time.Minute)})
	_, ok = c.get("a", now, 30*time.Second)
	assert.True(t, ok)
	_, ok = c.get("a", now, 60*time.Second)
	assert.False(t, ok, "a token living no longer than min_ttl is not served")

	f.fresh = false
	_, ok = c.get("a", now, 0)
	assert.False(t, ok, "a cache whose feed is behind serves nothing")
	c.put(entry{id: "c", expiry: now.Add(time.Minute)})
	assert.Equal(t, 2, c.stats().Size, "entries are kept, and added, while the feed is behind")
	assert.False(t, c.stats().Healthy)
	f.fresh = true
	_, ok = c.get("a", now, 0)
	assert.True(t, ok, "fresh again: the entries answer (the replay evicted what changed)")
	assert.True(t, c.stats().Healthy)

	c.put(entry{id: "b", expiry: now.Add(time.Minute)})
	c.evict("b")
	_, ok = c.get("b", now, 0)
	assert.False(t, ok)

	seq := c.evictionSeq()
	c.flush()
	assert.Equal(t, 0, c.stats().Size)
	_, ok = c.get("a", now, 0)
	assert.False(t, ok, "flushed")
	c.putUnlessEvicted(entry{id: "a", expiry: now.Add(time.Minute)}, seq)
	assert.Equal(t, 0, c.stats().Size, "a token minted across a flush is not cached")
}

func TestCacheDisabled(t *testing.T) {
	c := newCache(0, upFeed())
	c.put(entry{id: "a", expiry: time.Now().Add(time.Hour)})
	_, ok := c.get("a", time.Now(), 0)
	assert.False(t, ok)
}

// TestCacheEvictsNarrowedTokensWithTheirRow: a row's tokens narrowed by exchange are
// cached under their own keys and all dropped when the row is evicted, also when the
// LRU bound pushes them out first.
func TestCacheEvictsNarrowedTokensWithTheirRow(t *testing.T) {
	c := newCache(10, upFeed())
	now := time.Unix(1000, 0)
	exp := now.Add(time.Hour)
	orders := Narrowing{Audience: "orders-api"}.key("r1")
	scoped := Narrowing{Audience: "orders-api", Scope: "phone email phone"}.key("r1")
	assert.Equal(t, Narrowing{Audience: "orders-api", Scope: "email phone"}.key("r1"), scoped, "the scope is normalised")
	c.put(entry{id: "r1", accessToken: "plain", expiry: exp})
	c.put(entry{key: orders, id: "r1", accessToken: "orders", expiry: exp})
	c.put(entry{key: scoped, id: "r1", accessToken: "scoped", expiry: exp})
	c.put(entry{key: Narrowing{Audience: "orders-api"}.key("r2"), id: "r2", accessToken: "other row", expiry: exp})
	e, ok := c.get(orders, now, 0)
	require.True(t, ok)
	assert.Equal(t, "orders", e.accessToken)

	c.evict("r1")
	for _, k := range []string{"r1", orders, scoped} {
		_, ok := c.get(k, now, 0)
		assert.False(t, ok, "%q survived its row's eviction", k)
	}
	_, ok = c.get(Narrowing{Audience: "orders-api"}.key("r2"), now, 0)
	assert.True(t, ok, "another row's token stays")
	assert.Empty(t, c.byRow["r1"], "no index left behind")

	small := newCache(1, upFeed())
	small.put(entry{key: orders, id: "r1", expiry: exp})
	small.put(entry{id: "r3", expiry: exp})
	assert.Empty(t, small.byRow, "the LRU bound cleans the index too")
}
