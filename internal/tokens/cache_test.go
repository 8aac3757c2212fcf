package tokens

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCacheIsBoundedLRU(t *testing.T) {
	c := newCache(3)
	c.setHealthy(true)
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

func TestCacheMinTTLAndHealth(t *testing.T) {
	c := newCache(10)
	now := time.Unix(1000, 0)
	c.put(entry{id: "a", expiry: now.Add(time.Minute)})
	_, ok := c.get("a", now, 0)
	assert.False(t, ok, "nothing is cached before the eviction feed is up")

	c.setHealthy(true)
	c.put(entry{id: "a", expiry: now.Add(time.Minute)})
	_, ok = c.get("a", now, 30*time.Second)
	assert.True(t, ok)
	_, ok = c.get("a", now, 60*time.Second)
	assert.False(t, ok, "a token living no longer than min_ttl is not served")

	c.setHealthy(false)
	_, ok = c.get("a", now, 0)
	assert.False(t, ok, "a cache whose feed dropped serves nothing")
	c.setHealthy(true)
	_, ok = c.get("a", now, 0)
	assert.False(t, ok, "coming back, the cache starts empty: evictions may have been missed")

	c.put(entry{id: "b", expiry: now.Add(time.Minute)})
	c.evict("b")
	_, ok = c.get("b", now, 0)
	assert.False(t, ok)
}

func TestCacheDisabled(t *testing.T) {
	c := newCache(0)
	c.setHealthy(true)
	c.put(entry{id: "a", expiry: time.Now().Add(time.Hour)})
	_, ok := c.get("a", time.Now(), 0)
	assert.False(t, ok)
}
