package ended

import (
	"context"
	"sync"
	"time"
)

const (
	// pageSize bounds the records one read of the feed returns.
	pageSize = 5000
	// pruneBatch bounds the records one delete removes from the table.
	pruneBatch = 10000
)

// CatchUp reads the records after the last one read (all unexpired ones the first
// time) and applies them. The first success makes Loaded true.
func (r *Registry) CatchUp(ctx context.Context) error {
	r.catchUp.Lock()
	defer r.catchUp.Unlock()
	start, n := time.Now(), 0
	for {
		recs, err := r.st.EndedAfter(ctx, r.last, r.opt.Now(), pageSize)
		if err != nil {
			return err
		}
		r.mem.applyAll(recs)
		n += len(recs)
		if len(recs) > 0 {
			r.last = recs[len(recs)-1].Seq
		}
		if len(recs) < pageSize {
			break
		}
	}
	if !r.loaded.Swap(true) {
		sessions, users := r.mem.size()
		r.opt.Log.InfoContext(ctx, "ended sessions loaded", "records", n, "sessions", sessions, "user_rules", users,
			"duration_ms", time.Since(start).Milliseconds())
	}
	return nil
}

// Run prunes expired records every PruneEvery and reads the realm's access-token
// lifespan every LifespanRefresh until ctx ends. The feed itself is read by CatchUp,
// which package feed's follower calls on every wake-up, poll and reconnection.
func (r *Registry) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { r.followLifespan(ctx) })
	prune := time.NewTicker(r.opt.PruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-prune.C:
			r.prune(ctx)
		}
	}
}

// prune forgets expired records here and deletes them from the table.
func (r *Registry) prune(ctx context.Context) {
	now := r.opt.Now()
	left := r.mem.prune(now)
	var deleted int64
	for {
		n, err := r.st.PruneEnded(ctx, now, pruneBatch)
		deleted += n
		if err != nil {
			if ctx.Err() == nil {
				r.opt.Log.WarnContext(ctx, "pruning expired ended sessions failed", "error", err.Error())
			}
			return
		}
		if n < pruneBatch {
			break
		}
	}
	r.opt.Log.DebugContext(ctx, "ended sessions pruned", "deleted", deleted, "remembered", left)
}

// followLifespan reads the realm's access-token lifespan at once and every
// LifespanRefresh (every 5 s until a first read succeeds) until ctx ends.
func (r *Registry) followLifespan(ctx context.Context) {
	if r.realm == nil {
		return
	}
	warned := false
	for {
		d, err := r.realm.AccessTokenLifespan(ctx, r.opt.Clients)
		switch {
		case err == nil:
			r.life.observe(d, r.opt.Now())
		case ctx.Err() != nil:
			return
		case !warned && !r.life.known():
			warned = true
			r.opt.Log.WarnContext(ctx, "cannot read the realm's access-token lifespan (the service account needs view-realm and view-clients of realm-management); ended sessions are kept for the fallback meanwhile",
				"fallback", r.opt.FallbackLifespan.String(), "error", err.Error())
		default:
			r.opt.Log.DebugContext(ctx, "reading the realm's access-token lifespan failed", "error", err.Error())
		}
		wait := r.opt.LifespanRefresh
		if !r.life.known() {
			wait = min(wait, 5*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
