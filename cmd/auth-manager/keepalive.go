package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
)

// keepAlive runs one pass of the offline keep-alive and clean-up job now, with the
// AUTH_MANAGER_KEEPALIVE_* settings, and prints what it did. When serving replicas are
// running a pass, this one shares it: it takes the rows they have not claimed, within
// the same rate.
func keepAliveCommand(fs *flag.FlagSet, w world) action {
	dryRun := fs.Bool("dry-run", false, "report what would be refreshed and deleted, change nothing (default AUTH_MANAGER_KEEPALIVE_DRY_RUN)")
	return func(ctx context.Context, _ []string) error {
		cfg, log, err := w.loadConfig()
		if err != nil {
			return err
		}
		dry := cfg.KeepAlive.DryRun
		if isSet(fs, "dry-run") {
			dry = *dryRun
		}
		return keepAlive(ctx, cfg, log, dry, w.stdout)
	}
}

// isSet reports whether the command line set flag name.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func keepAlive(ctx context.Context, cfg config.Config, log *slog.Logger, dryRun bool, stdout io.Writer) error {
	cfg.KeepAlive.Enabled = false // this process runs the one pass below, nothing in the background
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.NewKeepAlive(dryRun, nil).RunOnce(ctx)
	if err != nil {
		return err
	}
	if rep.DryRun {
		fmt.Fprintf(stdout, "dry run: %d idle offline token(s) would be refreshed, %d invalid row(s) past retention would be deleted\n",
			rep.Idle, rep.Expired)
		return nil
	}
	fmt.Fprintf(stdout, "done: %d idle offline token(s): %d refreshed, %d refused by Keycloak and marked invalid, %d failed (retried next pass), %d kept alive meanwhile; %d invalid row(s) deleted; %d expired logout-token id(s) purged\n",
		rep.Idle, rep.Refreshed, rep.Invalidated, rep.Failed, rep.Skipped, rep.Deleted, rep.JTIsPurged)
	if rep.Failed > 0 {
		return fmt.Errorf("keepalive: %d refresh(es) failed", rep.Failed)
	}
	return nil
}
