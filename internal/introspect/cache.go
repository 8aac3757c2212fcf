package introspect

import (
	"sync"
	"time"

	"github.com/auth-manager/auth-manager/internal/keycloak"
)

// cache holds recent positive introspection answers, keyed by the SHA-256 of the
// token. It is bounded: when full, expired entries go first, then arbitrary ones (Go's
// map order), which is enough for a cache whose entries live seconds.
type cache struct {
	mu  sync.Mutex
	max int
	m   map[[32]byte]cacheEntry
}

type cacheEntry struct {
	claims keycloak.Claims
	until  time.Time
}

func newCache(max int) *cache { return &cache{max: max, m: make(map[[32]byte]cacheEntry)} }

func (c *cache) get(key [32]byte, now time.Time) (keycloak.Claims, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return keycloak.Claims{}, false
	}
	if !now.Before(e.until) {
		delete(c.m, key)
		return keycloak.Claims{}, false
	}
	return e.claims, true
}

func (c *cache) put(key [32]byte, cl keycloak.Claims, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = cacheEntry{claims: cl, until: until}
}
