package feed

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auth-manager/auth-manager/internal/store"
)

// Store is the eviction table and the wake-up channel (store.Store).
type Store interface {
	Listen(ctx context.Context, channels []string, onNotify func(), onState func(up bool))
	EvictionsAfter(ctx context.Context, after int64, limit int) (store.Evictions, error)
	EvictionsHead(ctx context.Context) (int64, error)
	PruneEvictions(ctx context.Context, retention time.Duration, limit int) (int64, error)
}

// Cache is what evictions apply to (tokens.Service).
type Cache interface {
	// Evict drops the cached access tokens of vault row id.
	Evict(id string)
	// Flush drops every cached access token.
	Flush()
}

// Source is another table followed by seq on the same wake-ups (ended.Registry): its
// CatchUp reads what was appended after the last record it read.
type Source interface {
	CatchUp(ctx context.Context) error
}

// Options configures a Follower. Zero values take the defaults named.
type Options struct {
	// Listen makes NOTIFY wake the follower as soon as a change commits. Without it
	// (behind a transaction pooler, where a LISTEN hears nothing) the feed is polled
	// only.
	Listen bool
	// Channels are the NOTIFY channels that wake it (store.EvictChannel and the
	// sources').
	Channels []string
	// Poll is how often the feed is read without a wake-up (1 s). Without Listen, an
	// eviction reaches this replica within Poll.
	Poll time.Duration
	// Retention is how long evictions are kept in the table (1 h): a replica that could
	// not read the feed for longer may find a gap, and then empties its cache.
	Retention time.Duration
	// PruneEvery is how often evictions older than Retention are deleted (1 min).
	PruneEvery time.Duration
	Log        *slog.Logger
	Now        func() time.Time
}

const (
	// pageSize bounds the evictions one read returns.
	pageSize = 5000
	// pruneBatch bounds the evictions one delete removes.
	pruneBatch = 10000
)

// Follower is one replica's reader of the feeds. Safe for concurrent use; Run must be
// running for Fresh to become true.
type Follower struct {
	st  Store
	opt Options

	mu      sync.Mutex // one reader at a time; guards last
	last    int64      // the highest eviction seq applied
	started atomic.Bool
	// current is true while the wake-up connection is up and a read completed after it
	// connected: every change committed since wakes a read at once.
	current atomic.Bool
	synced  atomic.Int64 // Now() in Unix nanoseconds when the last complete read began
	failing atomic.Bool  // the last read failed (its warning was logged)
	wake    chan struct{}
	conn    connection
}

// New returns a Follower that has read nothing yet.
func New(st Store, opt Options) *Follower {
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Retention <= 0 {
		opt.Retention = time.Hour
	}
	if opt.PruneEvery <= 0 {
		opt.PruneEvery = time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Follower{st: st, opt: opt, wake: make(chan struct{}, 1)}
}

// Started reports whether the follower knows where the eviction feed stands: a token
// cached from now on will see every later eviction of its row.
func (f *Follower) Started() bool { return f.started.Load() }

// Fresh reports whether every eviction committed on any replica is applied here: with
// Listen, while the wake-up connection is up and the feed was read since it connected;
// otherwise, while the last complete read began less than two Poll ago.
func (f *Follower) Fresh() bool {
	if !f.started.Load() {
		return false
	}
	if f.opt.Listen {
		return f.current.Load()
	}
	return f.opt.Now().Sub(time.Unix(0, f.synced.Load())) < 2*f.opt.Poll
}

// Run follows the feeds until ctx ends, applying evictions to cache and catching the
// sources up: at once, on every wake-up, every Poll, and whenever the wake-up
// connection (re)connects, so that nothing committed during an outage is missed. It
// prunes evictions older than Retention every PruneEvery.
func (f *Follower) Run(ctx context.Context, cache Cache, sources ...Source) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if f.opt.Listen {
		wg.Go(func() {
			f.st.Listen(ctx, f.opt.Channels, f.signal, func(up bool) {
				f.conn.set(up)
				if up {
					f.signal()
				} else {
					f.current.Store(false)
				}
			})
		})
	}
	poll := time.NewTicker(f.opt.Poll)
	defer poll.Stop()
	prune := time.NewTicker(f.opt.PruneEvery)
	defer prune.Stop()
	f.follow(ctx, cache, sources)
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
			f.follow(ctx, cache, sources)
		case <-poll.C:
			f.follow(ctx, cache, sources)
		case <-prune.C:
			f.prune(ctx)
		}
	}
}

// signal wakes Run's loop; wake-ups that arrive while one is pending merge into it.
func (f *Follower) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// follow reads the feeds, and marks them current when the wake-up connection was up
// before the read began and stayed so.
func (f *Follower) follow(ctx context.Context, cache Cache, sources []Source) {
	up, gen := f.conn.get()
	if err := f.read(ctx, cache, sources); err != nil {
		f.current.Store(false)
		if ctx.Err() == nil && !f.failing.Swap(true) {
			f.opt.Log.WarnContext(ctx, "reading the change feed failed; the access-token cache is not used until a read succeeds",
				"error", err.Error())
		}
		return
	}
	if f.failing.Swap(false) {
		f.opt.Log.InfoContext(ctx, "change feed read again")
	}
	if up2, gen2 := f.conn.get(); f.opt.Listen && up && up2 && gen == gen2 {
		f.current.Store(true)
	}
}

// read applies every eviction after the last one applied (none the first time: the
// cache starts empty, so it starts at the head), then catches the sources up.
func (f *Follower) read(ctx context.Context, cache Cache, sources []Source) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	began := f.opt.Now()
	if !f.started.Load() {
		head, err := f.st.EvictionsHead(ctx)
		if err != nil {
			return err
		}
		f.last = head
		f.started.Store(true)
	}
	for {
		ev, err := f.st.EvictionsAfter(ctx, f.last, pageSize)
		if err != nil {
			return err
		}
		if ev.Gap {
			cache.Flush()
			f.opt.Log.WarnContext(ctx, "evictions were pruned before this replica read them; access-token cache emptied",
				"last_seq", f.last, "resumed_at", ev.Last, "retention", f.opt.Retention.String())
		}
		for _, id := range ev.RowIDs {
			cache.Evict(id)
		}
		f.last = ev.Last
		if len(ev.RowIDs) < pageSize {
			break
		}
	}
	for _, s := range sources {
		if err := s.CatchUp(ctx); err != nil {
			return err
		}
	}
	f.synced.Store(began.UnixNano())
	return nil
}

// prune deletes evictions older than Retention from the table.
func (f *Follower) prune(ctx context.Context) {
	var deleted int64
	for {
		n, err := f.st.PruneEvictions(ctx, f.opt.Retention, pruneBatch)
		deleted += n
		if err != nil {
			if ctx.Err() == nil {
				f.opt.Log.WarnContext(ctx, "pruning old evictions failed", "error", err.Error())
			}
			return
		}
		if n < pruneBatch {
			break
		}
	}
	f.opt.Log.DebugContext(ctx, "evictions pruned", "deleted", deleted)
}

// connection is the state of the wake-up channel: up, and a generation that changes
// with every transition.
type connection struct {
	mu  sync.Mutex
	up  bool
	gen uint64
}

func (c *connection) set(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.up = up
	c.gen++
}

func (c *connection) get() (bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up, c.gen
}
