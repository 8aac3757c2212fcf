package keepalive

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// RateName names the refresh rate every replica's keep-alive workers share.
const RateName = "keepalive"

// cleanUpBatch is how many invalid rows one statement deletes.
const cleanUpBatch = 200

// Store is the repository the job needs besides the vault.
type Store interface {
	// TakeSlot reserves the next slot of a rate shared by every replica and says how
	// long to wait for it.
	TakeSlot(ctx context.Context, name string, interval time.Duration) (time.Duration, error)
	PurgeLogoutJTIs(ctx context.Context, now time.Time) (int64, error)
}

// Vault is the part of the vault the job needs.
type Vault interface {
	ClaimIdle(ctx context.Context, idleSince, now, until time.Time, limit int) ([]vault.Meta, error)
	SetClaims(ctx context.Context, ids []string, until *time.Time) error
	IdlePage(ctx context.Context, idleSince time.Time, after vault.Cursor, limit int) ([]vault.Meta, vault.Cursor, error)
	RefreshIdle(ctx context.Context, id string, idleSince time.Time, exchange vault.Exchange) error
	DeleteInvalid(ctx context.Context, markedBefore time.Time, limit int) ([]vault.Meta, error)
	InvalidPage(ctx context.Context, markedBefore time.Time, after vault.Cursor, limit int) ([]vault.Meta, vault.Cursor, error)
}

// Keycloak presents a stored token to Keycloak (the refresh_token grant).
type Keycloak interface {
	Refresh(ctx context.Context, refreshToken string, retries int) (keycloak.TokenSet, error)
}

// Options configures the keep-alive and clean-up job.
type Options struct {
	Interval      time.Duration // between passes
	IdleThreshold time.Duration // OFFLINE rows unused for longer are refreshed
	Retention     time.Duration // rows marked invalid for longer are deleted; 0 keeps them
	DryRun        bool          // log what a pass would do, change nothing
	// Rate is how many refreshes per second the keep-alive workers of every replica
	// together present to Keycloak (AUTH_MANAGER_KEEPALIVE_RATE); 0: 20.
	Rate int
	// Workers is how many refreshes this replica has in flight at most
	// (AUTH_MANAGER_KEEPALIVE_WORKERS); 0: 1.
	Workers int
	// Batch is how many idle rows a worker claims at a time (0: 10), and ClaimFor how
	// long its claim keeps other workers off them (0: 10 minutes, at most half the
	// idle threshold). A worker whose claim lapses gives up the rest of its batch; a
	// row is never refreshed twice either way (see vault.RefreshIdle). A refreshed
	// row's claim is left to lapse: the row is idle again only after the idle
	// threshold, and by then the claim has lapsed, so ending it would cost a write.
	Batch    int
	ClaimFor time.Duration
	Retries  int // retries of a refresh Keycloak certainly did not process
	// RefreshDeadline bounds one refresh; a refresh in flight is finished even when
	// the job is stopped, because abandoning it could lose a rotated token.
	RefreshDeadline time.Duration
	Log             *slog.Logger
	Audit           *audit.Logger
	Now             func() time.Time
	// OnPass is told every pass's report and error (metrics).
	OnPass func(Report, error)
}

// Report is what one pass of this replica did (or, dry, would have done). Passes of
// other replicas running at the same time share the work: each row is in one report.
type Report struct {
	DryRun      bool
	Idle        int // idle OFFLINE rows claimed (dry run: found)
	Refreshed   int
	Invalidated int // refused by Keycloak for good (invalid_grant) and marked
	Failed      int // not refreshed for another reason (Keycloak down, …); tried again next pass
	Skipped     int // claimed, but kept alive by another refresh before their turn
	Expired     int // marked rows past the retention period found (dry run) or deleted
	Deleted     int
	JTIsPurged  int64
	Duration    time.Duration
}

// Job keeps offline sessions alive and clears out dead rows. Every replica runs it:
// the workers of all replicas claim idle rows in batches, so that a pass is shared
// and no row is refreshed twice, and take each refresh's slot from one rate kept in
// the database, so that Keycloak sees at most Rate refreshes per second however many
// replicas and workers there are. Progress is in the rows (a refreshed row is no
// longer idle), so a pass that stops anywhere is resumed by the next one, here or
// on any replica.
type Job struct {
	st    Store
	vault Vault
	kc    Keycloak
	opt   Options
}

// New returns the job.
func New(st Store, v Vault, kc Keycloak, opt Options) *Job {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Rate <= 0 {
		opt.Rate = 20
	}
	if opt.Workers <= 0 {
		opt.Workers = 1
	}
	if opt.Batch <= 0 {
		opt.Batch = 10
	}
	if opt.ClaimFor <= 0 {
		opt.ClaimFor = 10 * time.Minute
	}
	if opt.IdleThreshold > 0 {
		opt.ClaimFor = min(opt.ClaimFor, opt.IdleThreshold/2)
	}
	if opt.RefreshDeadline <= 0 {
		opt.RefreshDeadline = time.Minute
	}
	if opt.OnPass == nil {
		opt.OnPass = func(Report, error) {}
	}
	return &Job{st: st, vault: v, kc: kc, opt: opt}
}

// Run runs a pass at once and then every Interval until ctx ends. It returns after
// the pass in progress has stopped.
func (j *Job) Run(ctx context.Context) {
	for {
		if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
			j.opt.Log.WarnContext(ctx, "keep-alive pass failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(j.opt.Interval):
		}
	}
}

// RunOnce runs one pass: it refreshes idle offline rows until none is left unclaimed,
// deletes rows marked invalid past the retention period, and purges expired logout
// token ids. When ctx ends it gives up its remaining claims, finishes the refreshes
// in flight and returns ctx's error.
func (j *Job) RunOnce(ctx context.Context) (Report, error) {
	start := time.Now()
	rep := Report{DryRun: j.opt.DryRun}
	err := j.pass(ctx, &rep)
	rep.Duration = time.Since(start)
	j.opt.OnPass(rep, err)
	j.opt.Log.InfoContext(ctx, "keep-alive pass", "dry_run", rep.DryRun, "idle", rep.Idle, "refreshed", rep.Refreshed,
		"invalidated", rep.Invalidated, "failed", rep.Failed, "skipped", rep.Skipped, "expired", rep.Expired,
		"deleted", rep.Deleted, "jtis_purged", rep.JTIsPurged, "duration_ms", rep.Duration.Milliseconds(), "complete", err == nil)
	return rep, err
}

func (j *Job) pass(ctx context.Context, rep *Report) error {
	now := j.opt.Now()
	idleSince := now.Add(-j.opt.IdleThreshold)
	var err error
	if j.opt.DryRun {
		err = j.listIdle(ctx, idleSince, rep)
	} else {
		err = j.keepAlive(ctx, idleSince, rep)
	}
	if err != nil {
		return err
	}
	if j.opt.Retention > 0 {
		if err := j.cleanUp(ctx, now.Add(-j.opt.Retention), rep); err != nil {
			return err
		}
	}
	if !j.opt.DryRun {
		n, err := j.st.PurgeLogoutJTIs(ctx, now)
		if err != nil {
			return err
		}
		rep.JTIsPurged = n
	}
	return nil
}

// keepAlive runs the workers until no idle row is left unclaimed or ctx ends.
func (j *Job) keepAlive(ctx context.Context, idleSince time.Time, rep *Report) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range j.opt.Workers {
		wg.Go(func() {
			var mine Report
			err := j.work(wctx, idleSince, &mine)
			mu.Lock()
			defer mu.Unlock()
			rep.Idle += mine.Idle
			rep.Refreshed += mine.Refreshed
			rep.Invalidated += mine.Invalidated
			rep.Failed += mine.Failed
			rep.Skipped += mine.Skipped
			if err != nil && first == nil {
				first = err
				cancel() // one worker's database error stops the others
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return first
}

// work claims batches and refreshes their rows, one slot of the shared rate each.
func (j *Job) work(ctx context.Context, idleSince time.Time, rep *Report) error {
	for {
		now := j.opt.Now()
		until := now.Add(j.opt.ClaimFor)
		rows, err := j.vault.ClaimIdle(ctx, idleSince, now, until, j.opt.Batch)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		rep.Idle += len(rows)
		for i, r := range rows {
			err := j.waitSlot(ctx)
			if err != nil || !j.opt.Now().Before(until) {
				// Stopped, or the claim lapsed while waiting: the rest of the batch goes
				// back at once (the slot taken is left unused).
				rep.Idle -= len(rows) - i
				j.release(ctx, rows[i:])
				if err != nil {
					return err
				}
				break
			}
			j.refresh(ctx, r, idleSince, rep)
		}
	}
}

// waitSlot takes the next slot of the shared rate and waits for it.
func (j *Job) waitSlot(ctx context.Context) error {
	wait, err := j.st.TakeSlot(ctx, RateName, time.Second/time.Duration(j.opt.Rate))
	if err != nil {
		return err
	}
	if wait <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// release gives up the claims on rows, so that another worker takes them now.
func (j *Job) release(ctx context.Context, rows []vault.Meta) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := j.vault.SetClaims(rctx, ids, nil); err != nil {
		j.opt.Log.WarnContext(ctx, "keep-alive: claims not given up; they lapse on their own", "rows", len(ids), "error", err.Error())
	}
}
