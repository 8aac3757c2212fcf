package ended

import (
	"sync"
	"time"
)

// lifespans knows the longest access-token lifespan that tokens alive now may have
// been issued under. A lifespan read from the realm stays in force after a shorter one
// is read, for as long as tokens issued under it may live: lowering the realm's
// setting does not shorten the tokens already issued. Safe for concurrent use.
type lifespans struct {
	fallback time.Duration // until a first read
	refresh  time.Duration // how often the realm is read: a value may be a refresh old

	mu     sync.Mutex
	latest time.Duration
	seen   map[time.Duration]time.Time // each value read → when it was last read
}

func newLifespans(fallback, refresh time.Duration) *lifespans {
	return &lifespans{fallback: fallback, refresh: refresh, seen: map[time.Duration]time.Time{}}
}

// observe records that the realm's lifespan read v at now.
func (l *lifespans) observe(v time.Duration, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.latest, l.seen[v] = v, now
}

// known reports whether the realm was ever read.
func (l *lifespans) known() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest > 0
}

// at returns the lifespan to assume for tokens alive at now: the longest value read
// whose tokens may still be alive (read within its own length plus a refresh), the
// latest value read in any case, the fallback before any.
func (l *lifespans) at(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.latest == 0 {
		return l.fallback
	}
	longest := l.latest
	for v, last := range l.seen {
		switch {
		case v == l.latest:
		case now.Sub(last) < v+l.refresh:
			longest = max(longest, v)
		default:
			delete(l.seen, v)
		}
	}
	return longest
}
