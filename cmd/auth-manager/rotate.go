package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// rotateKeysCommand re-seals every row that is not under the current key. Run it
// after moving the old key to AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS; it is safe while
// the service serves traffic and resumes where it stopped when interrupted. It reads
// only the database's and the vault keys' variables.
func rotateKeysCommand(fs *flag.FlagSet, w world) action {
	dryRun := fs.Bool("dry-run", false, "report what would be re-sealed, change nothing")
	batch := fs.Int("batch", 500, "`N` rows per transaction (1-10000)")
	return func(ctx context.Context, _ []string) error {
		if *batch < 1 || *batch > 10000 {
			return usageErrorf("rotate-keys: --batch must be between 1 and 10000")
		}
		getenv, dot, err := w.env()
		if err != nil {
			return err
		}
		db, level, dbErr := config.LoadDatabase(getenv)
		keys, keysErr := config.LoadKeys(getenv)
		if err := errors.Join(dbErr, keysErr); err != nil {
			return err
		}
		log := newLogger(w.stderr, level)
		logDotEnv(log, dot)
		return rotateKeys(ctx, db, keys, log, *dryRun, *batch, w.stdout)
	}
}

func rotateKeys(ctx context.Context, db config.Database, keys config.Keys, log *slog.Logger, dryRun bool, batch int, stdout io.Writer) error {
	ring, err := app.NewRing(keys)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, db, log)
	if err != nil {
		return err
	}
	defer st.Close()

	start := time.Now()
	last := time.Time{}
	res, err := vault.Rotate(ctx, st, ring, vault.RotateOptions{Batch: batch, DryRun: dryRun,
		TrustOpaqueLegacy: keys.TrustOpaqueLegacy, Progress: func(r vault.RotationResult) {
			if time.Since(last) >= time.Second {
				last = time.Now()
				fmt.Fprintf(stdout, "progress: %d of %d re-sealed, %d unusable\n", r.Resealed, r.Pending, r.Unusable)
			}
		}})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if dryRun {
		fmt.Fprintf(stdout, "dry run: %d row(s) not under the current key %s would be re-sealed\n", res.Pending, ring.CurrentKeyID())
		fmt.Fprintf(stdout, "legacy rows (no integrity tag): %d remain, %d fail the claims check and would stay unusable\n",
			res.Legacy, res.LegacyMismatch)
		return nil
	}
	fmt.Fprintf(stdout, "done: %d re-sealed, %d unusable, %d remaining, in %.1fs (%.0f rows/s); current key %s\n",
		res.Resealed, res.Unusable, res.Remaining, secs, float64(res.Resealed)/max(secs, 0.001), ring.CurrentKeyID())
	ev := audit.Event{Name: audit.KeyRotation, Detail: fmt.Sprintf("resealed=%d unusable=%d remaining=%d key_id=%s",
		res.Resealed, res.Unusable, res.Remaining, ring.CurrentKeyID())}
	if res.Remaining > 0 {
		ev.Outcome, ev.ErrorCode = audit.Failed, "rows_remaining"
	}
	audit.New(log, nil).Record(ctx, ev)
	for _, id := range res.UnusableIDs {
		fmt.Fprintf(stdout, "unusable: %s\n", id)
	}
	if res.Remaining > 0 {
		return fmt.Errorf("rotate-keys: %d row(s) are still not under the current key (unusable rows are listed above)", res.Remaining)
	}
	return nil
}
