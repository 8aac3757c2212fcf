package introspect

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/auth-manager/auth-manager/internal/keycloak"
)

// entry is a cached answer about a token: its claims, or the error it gets (only
// ErrNotActive is cached; a token failing the local check never reaches the cache).
type entry struct {
	claims keycloak.Claims
	err    error
	until  time.Time
}

// cache holds recent answers keyed by the SHA-256 of the token, bounded by an LRU
// (constant time per operation, whatever its size).
type cache struct{ l *lru.Cache[[32]byte, entry] }

func newCache(size int) *cache {
	l, err := lru.New[[32]byte, entry](size)
	if err != nil {
		panic(err) // size > 0 is guaranteed by New
	}
	return &cache{l: l}
}

func (c *cache) get(key [32]byte, now time.Time) (entry, bool) {
	e, ok := c.l.Get(key)
	if !ok {
		return entry{}, false
	}
	if !now.Before(e.until) {
		c.l.Remove(key)
		return entry{}, false
	}
	return e, true
}

func (c *cache) put(key [32]byte, e entry, now time.Time) {
	if now.Before(e.until) {
		c.l.Add(key, e)
	}
}
