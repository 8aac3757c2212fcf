package keepalive

import (
	"context"
	"errors"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// refresh presents row r's token to Keycloak through the vault, if the row is still
// idle, and counts the outcome. A row whose refresh failed for a passing reason stays
// claimed until the next pass, so that this pass does not keep retrying it.
func (j *Job) refresh(ctx context.Context, r vault.Meta, idleSince time.Time, rep *Report) {
	// Not cancelled by a stop: a refresh Keycloak has processed must be stored.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.opt.RefreshDeadline)
	defer cancel()
	err := j.vault.RefreshIdle(rctx, r.ID, idleSince, func(ctx context.Context, token string) (keycloak.TokenSet, error) {
		return j.kc.Refresh(ctx, token, j.opt.Retries)
	})
	switch {
	case err == nil:
		rep.Refreshed++
	case errors.Is(err, vault.ErrNotIdle), errors.Is(err, vault.ErrNotFound):
		// Kept alive by another refresh, refused earlier, or deleted: nothing to do.
		rep.Skipped++
	case keycloak.IsInvalidGrant(err):
		rep.Invalidated++
		j.opt.Log.InfoContext(ctx, "keep-alive: Keycloak refused the offline token; row marked invalid",
			"row_id", r.ID, "session_id", r.SessionID, "error", err.Error())
	default:
		rep.Failed++
		j.opt.Log.WarnContext(ctx, "keep-alive: refresh failed; retried next pass", "row_id", r.ID, "error", err.Error())
		next := j.opt.Now().Add(j.opt.Interval)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := j.vault.SetClaims(sctx, []string{r.ID}, &next); err != nil {
			j.opt.Log.WarnContext(ctx, "keep-alive: failed row's claim not extended", "row_id", r.ID, "error", err.Error())
		}
	}
}

// listIdle logs every idle row a pass would refresh (a dry run).
func (j *Job) listIdle(ctx context.Context, idleSince time.Time, rep *Report) error {
	var cur vault.Cursor
	for {
		rows, next, err := j.vault.IdlePage(ctx, idleSince, cur, cleanUpBatch)
		if err != nil {
			return err
		}
		for _, r := range rows {
			rep.Idle++
			j.opt.Log.InfoContext(ctx, "keep-alive (dry run): would refresh", "row_id", r.ID, "session_id", r.SessionID,
				"idle_since", lastUse(r).UTC().Format(time.RFC3339))
		}
		if len(rows) < cleanUpBatch {
			return nil
		}
		cur = next
	}
}

// cleanUp deletes rows marked invalid before markedBefore, a batch per statement.
// Replicas cleaning up at the same time delete disjoint batches.
func (j *Job) cleanUp(ctx context.Context, markedBefore time.Time, rep *Report) error {
	if j.opt.DryRun {
		return j.listExpired(ctx, markedBefore, rep)
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		gone, err := j.vault.DeleteInvalid(ctx, markedBefore, cleanUpBatch)
		if err != nil {
			return err
		}
		for _, r := range gone {
			rep.Expired++
			rep.Deleted++
			j.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenDeleted, Subject: r.UserID, RowID: r.ID,
				SessionID: r.SessionID, Detail: "retention: marked invalid (" + r.LastError + ")"})
		}
		if len(gone) < cleanUpBatch {
			return nil
		}
	}
}

// listExpired logs every marked row a pass would delete (a dry run).
func (j *Job) listExpired(ctx context.Context, markedBefore time.Time, rep *Report) error {
	var cur vault.Cursor
	for {
		rows, next, err := j.vault.InvalidPage(ctx, markedBefore, cur, cleanUpBatch)
		if err != nil {
			return err
		}
		for _, r := range rows {
			rep.Expired++
			j.opt.Log.InfoContext(ctx, "clean-up (dry run): would delete", "row_id", r.ID, "token_type", string(r.Type),
				"last_error", r.LastError)
		}
		if len(rows) < cleanUpBatch {
			return nil
		}
		cur = next
	}
}

func lastUse(r vault.Meta) time.Time {
	if r.LastUsedAt != nil {
		return *r.LastUsedAt
	}
	return r.CreatedAt
}
