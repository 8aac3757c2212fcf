package tokens

import (
	"container/list"
	"sync"
	"time"
)

// entry is a cached access token and what is needed to answer from it without the
// database: the owner, for the ownership check.
type entry struct {
	key         string // the row id, or narrowedKey for a token narrowed by exchange
	id          string // the row id
	userID      string
	sessionID   string // for the audit trail
	accessToken string
	tokenType   string
	scope       string
	expiry      time.Time
}

// Feed says whether the cache can be trusted (feed.Follower).
type Feed interface {
	// Started: the eviction feed's position is known, so a token cached now sees every
	// later eviction of its row.
	Started() bool
	// Fresh: every eviction committed on any replica is applied (within the feed's bound).
	Fresh() bool
}

// cache is a bounded LRU of access tokens by key: the row id, and one key per
// (audience, scope) a row's token was narrowed to; evicting a row drops them all. It
// answers only while the eviction feed is fresh and fills only once it has started;
// while the feed is behind (a listener reconnecting, a database outage) it keeps its
// entries and answers none, and the feed's replay evicts what changed meanwhile.
type cache struct {
	mu    sync.Mutex
	max   int
	feed  Feed
	ll    *list.List // front = most recently used
	byID  map[string]*list.Element
	byRow map[string]map[string]struct{} // row id -> the keys of its narrowed tokens
	// evictSeq counts evict and flush calls: a token minted while one passed may belong
	// to a row that is gone.
	evictSeq uint64

	hits, misses, evictions int64
}

func newCache(max int, feed Feed) *cache {
	return &cache{max: max, feed: feed, ll: list.New(), byID: map[string]*list.Element{}, byRow: map[string]map[string]struct{}{}}
}

// get returns the entry for key if the cache is trusted and the token will live at
// least minTTL more.
func (c *cache) get(key string, now time.Time, minTTL time.Duration) (entry, bool) {
	if c.max <= 0 {
		return entry{}, false
	}
	fresh := c.feed != nil && c.feed.Fresh()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[key]
	if !ok || !fresh {
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
	c.putLocked(e)
}

// evictionSeq is the number of evict calls so far, for putUnlessEvicted.
func (c *cache) evictionSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evictSeq
}

// putUnlessEvicted caches e unless an eviction happened since evictionSeq was seq.
func (c *cache) putUnlessEvicted(e entry, seq uint64) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.evictSeq == seq {
		c.putLocked(e)
	}
}

// putLocked caches e; the caller holds the lock.
func (c *cache) putLocked(e entry) {
	if c.feed == nil || !c.feed.Started() {
		return
	}
	if e.key == "" {
		e.key = e.id
	}
	if el, ok := c.byID[e.key]; ok {
		el.Value = e
		c.ll.MoveToFront(el)
		return
	}
	c.byID[e.key] = c.ll.PushFront(e)
	if e.key != e.id {
		if c.byRow[e.id] == nil {
			c.byRow[e.id] = map[string]struct{}{}
		}
		c.byRow[e.id][e.key] = struct{}{}
	}
	for c.ll.Len() > c.max {
		c.remove(c.ll.Back())
		c.evictions++
	}
}

// remove drops one element; the caller holds the lock.
func (c *cache) remove(el *list.Element) {
	e := el.Value.(entry)
	c.ll.Remove(el)
	delete(c.byID, e.key)
	if e.key != e.id {
		delete(c.byRow[e.id], e.key)
		if len(c.byRow[e.id]) == 0 {
			delete(c.byRow, e.id)
		}
	}
}

// evict drops row id's token and every token narrowed from it (a deletion or
// invalidation was announced).
func (c *cache) evict(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictSeq++
	keys := []string{id}
	for k := range c.byRow[id] {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if el, ok := c.byID[k]; ok {
			c.remove(el)
			c.evictions++
		}
	}
}

// flush drops every entry (evictions may have been missed).
func (c *cache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictSeq++
	c.ll.Init()
	clear(c.byID)
	clear(c.byRow)
}

// Stats are cache counters since start.
type Stats struct {
	Hits, Misses, Evictions int64
	Size                    int
	// Healthy: the cache answers (its eviction feed is fresh).
	Healthy bool
}

func (c *cache) stats() Stats {
	fresh := c.feed != nil && c.feed.Fresh()
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Hits: c.hits, Misses: c.misses, Evictions: c.evictions, Size: c.ll.Len(), Healthy: fresh}
}
