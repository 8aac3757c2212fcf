package keepalive

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// LockKey is the PostgreSQL advisory lock a keep-alive pass holds, so that
// one replica at a time runs it. ("am-keepalive" in ASCII, truncated.)
const LockKey int64 = 0x616d2d6b6565

// batch is how many rows a pass reads at a time.
const batch = 200

// Store is the repository the job needs besides the vault.
type Store interface {
	WithAdvisoryLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (bool, error)
	PurgeLogoutJTIs(ctx context.Context, now time.Time) (int64, error)
}

// Vault is the part of the vault the job needs.
type Vault interface {
	IdleOffline(ctx context.Context, idleSince time.Time, after string, limit int) ([]vault.Meta, error)
	InvalidBefore(ctx context.Context, markedBefore time.Time, after string, limit int) ([]vault.Meta, error)
	DeleteInvalid(ctx context.Context, id string, markedBefore time.Time) (vault.Meta, error)
}

// Refresher refreshes a stored token by row id without a caller, under the same row
// lock as the access-token path, storing the successor and marking the row on
// invalid_grant (the access-token service).
type Refresher interface {
	RefreshStored(ctx context.Context, id string) error
}

// Options configures the keep-alive and clean-up job.
type Options struct {
	Interval      time.Duration // between passes
	IdleThreshold time.Duration // OFFLINE rows unused for longer are refreshed
	Retention     time.Duration // rows marked invalid for longer are deleted; 0 keeps them
	DryRun        bool          // log what a pass would do, change nothing
	// RefreshDeadline bounds one refresh; a refresh in flight is finished even when
	// the job is stopped, because abandoning it could lose a rotated token.
	RefreshDeadline time.Duration
	Log             *slog.Logger
	Audit           *audit.Logger
	Now             func() time.Time
	// OnPass is told every pass's report and error (metrics).
	OnPass func(Report, error)
}

// Report is what one pass did (or, dry, would have done).
type Report struct {
	Ran         bool // false: another replica held the lock, nothing was done
	DryRun      bool
	Idle        int // idle OFFLINE rows found
	Refreshed   int
	Invalidated int // refused by Keycloak for good (invalid_grant) and marked
	Failed      int // not refreshed for another reason (Keycloak down, …); tried again next pass
	Expired     int // marked rows past the retention period found
	Deleted     int
	JTIsPurged  int64
	Duration    time.Duration
}

// Job keeps offline sessions alive and clears out dead rows. Safe to run on every
// replica: a pass runs only while it holds the advisory lock.
type Job struct {
	st     Store
	vault  Vault
	tokens Refresher
	opt    Options
}

// New returns the job.
func New(st Store, v Vault, tokens Refresher, opt Options) *Job {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.RefreshDeadline <= 0 {
		opt.RefreshDeadline = time.Minute
	}
	if opt.OnPass == nil {
		opt.OnPass = func(Report, error) {}
	}
	return &Job{st: st, vault: v, tokens: tokens, opt: opt}
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

// RunOnce runs one pass if no other replica is running one.
func (j *Job) RunOnce(ctx context.Context) (Report, error) {
	start := time.Now()
	rep := Report{DryRun: j.opt.DryRun}
	ran, err := j.st.WithAdvisoryLock(ctx, LockKey, func(ctx context.Context) error {
		return j.pass(ctx, &rep)
	})
	rep.Ran, rep.Duration = ran, time.Since(start)
	j.opt.OnPass(rep, err)
	switch {
	case !ran && err == nil:
		j.opt.Log.DebugContext(ctx, "keep-alive pass skipped: another replica holds the lock")
	case ran:
		j.opt.Log.InfoContext(ctx, "keep-alive pass", "dry_run", rep.DryRun, "idle", rep.Idle, "refreshed", rep.Refreshed,
			"invalidated", rep.Invalidated, "failed", rep.Failed, "expired", rep.Expired, "deleted", rep.Deleted,
			"jtis_purged", rep.JTIsPurged, "duration_ms", rep.Duration.Milliseconds(), "complete", err == nil)
	}
	return rep, err
}

func (j *Job) pass(ctx context.Context, rep *Report) error {
	now := j.opt.Now()
	if err := j.keepAlive(ctx, now.Add(-j.opt.IdleThreshold), rep); err != nil {
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

// keepAlive refreshes every active OFFLINE row unused since idleSince, one at a time.
func (j *Job) keepAlive(ctx context.Context, idleSince time.Time, rep *Report) error {
	after := ""
	for {
		rows, err := j.vault.IdleOffline(ctx, idleSince, after, batch)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			after = r.ID
			rep.Idle++
			if j.opt.DryRun {
				j.opt.Log.InfoContext(ctx, "keep-alive (dry run): would refresh", "row_id", r.ID, "session_id", r.SessionID,
					"idle_since", lastUse(r).UTC().Format(time.RFC3339))
				continue
			}
			j.refresh(ctx, r, rep)
		}
		if len(rows) < batch {
			return nil
		}
	}
}

func (j *Job) refresh(ctx context.Context, r vault.Meta, rep *Report) {
	// Not cancelled by a stop: a refresh Keycloak has processed must be stored.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.opt.RefreshDeadline)
	defer cancel()
	err := j.tokens.RefreshStored(rctx, r.ID)
	switch {
	case err == nil:
		rep.Refreshed++
	case keycloak.IsInvalidGrant(err):
		rep.Invalidated++
		j.opt.Log.InfoContext(ctx, "keep-alive: Keycloak refused the offline token; row marked invalid",
			"row_id", r.ID, "session_id", r.SessionID, "error", err.Error())
	case errors.Is(err, vault.ErrNotFound):
		// Deleted meanwhile: nothing to keep alive.
	default:
		rep.Failed++
		j.opt.Log.WarnContext(ctx, "keep-alive: refresh failed; retried next pass", "row_id", r.ID, "error", err.Error())
	}
}

// cleanUp deletes rows marked invalid before markedBefore.
func (j *Job) cleanUp(ctx context.Context, markedBefore time.Time, rep *Report) error {
	after := ""
	for {
		rows, err := j.vault.InvalidBefore(ctx, markedBefore, after, batch)
		if err != nil {
			return err
		}
		for _, r := range rows {
			after = r.ID
			rep.Expired++
			if j.opt.DryRun {
				j.opt.Log.InfoContext(ctx, "clean-up (dry run): would delete", "row_id", r.ID, "token_type", string(r.Type),
					"last_error", r.LastError)
				continue
			}
			gone, err := j.vault.DeleteInvalid(ctx, r.ID, markedBefore)
			if errors.Is(err, vault.ErrNotFound) {
				continue // deleted or stored anew meanwhile
			}
			if err != nil {
				return err
			}
			rep.Deleted++
			j.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenDeleted, Subject: gone.UserID, RowID: gone.ID,
				SessionID: gone.SessionID, Detail: "retention: marked invalid (" + gone.LastError + ")"})
		}
		if len(rows) < batch {
			return nil
		}
	}
}

func lastUse(r vault.Meta) time.Time {
	if r.LastUsedAt != nil {
		return *r.LastUsedAt
	}
	return r.CreatedAt
}
