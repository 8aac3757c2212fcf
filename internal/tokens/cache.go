package tokens

import (
	"container/list"
	"sync"
	"time"
)

// entry is a cached access token and what is needed to answer from it without the
// database: the owner, for the ownership check.
type entry struct {
	id          string
	userID      string
	sessionID   string // for the audit trail
	accessToken string
	tokenType   string
	scope       string
	expiry      time.Time
}

// cache is a bounded LRU of access tokens by row id. It is trusted only while the
// eviction feed is connected: when the feed drops, the cache empties and refuses to
// answer or fill until the feed is back (notifications sent meanwhile are lost).
type cache struct {
	mu      sync.Mutex
	max     int
	ll      *list.List // front = most recently used
	byID    map[string]*list.Element
	healthy bool

	hits, misses, evictions int64
}

func newCache(max int) *cache {
	return &cache{max: max, ll: list.New(), byID: map[string]*list.Element{}}
}

// get returns the entry for id if the cache is trusted and the token will live at
// least minTTL more.
func (c *cache) get(id string, now time.Time, minTTL time.Duration) (entry, bool) {
	if c.max <= 0 {
		return entry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok || !c.healthy {
		c.misses++
		return entry{}, false
	}
	e := el.Value.(entry)
	if e.expiry.Sub(now) <= minTTL {
		c.misses++
		return entry{}, false
	}
	c.ll.MoveToFront(el)
	c.hits++
	return e, true
}

func (c *cache) put(e entry) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.healthy {
		return
	}
	if el, ok := c.byID[e.id]; ok {
		el.Value = e
		c.ll.MoveToFront(el)
		return
	}
	c.byID[e.id] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.byID, old.Value.(entry).id)
		c.evictions++
	}
}

// evict drops id (a deletion or invalidation was announced).
func (c *cache) evict(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.ll.Remove(el)
		delete(c.byID, id)
		c.evictions++
	}
}

// setHealthy records the eviction feed's state. Both transitions empty the cache:
// going down, because we will miss notifications; coming up, because we may have.
func (c *cache) setHealthy(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.healthy = up
	c.ll.Init()
	clear(c.byID)
}

// Stats are cache counters since start.
type Stats struct {
	Hits, Misses, Evictions int64
	Size                    int
	Healthy                 bool
}

func (c *cache) stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Hits: c.hits, Misses: c.misses, Evictions: c.evictions, Size: c.ll.Len(), Healthy: c.healthy}
}
