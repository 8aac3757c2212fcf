package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/doctor"
)

// errChecksFailed makes doctor exit non-zero once the report is printed.
var errChecksFailed = errors.New("doctor: some checks failed")

// doctorCommand checks the deployment this environment describes and prints one line
// per check (--json: one JSON object). It fails when any check failed. A configuration
// that does not load is itself the first failed check, not an error before the report.
func doctorCommand(fs *flag.FlagSet, w world) action {
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, _ []string) error {
		report, err := doctorReport(ctx, w)
		if err != nil {
			return err
		}
		if *asJSON {
			if err := report.WriteJSON(w.stdout); err != nil {
				return err
			}
		} else {
			report.WriteText(w.stdout)
		}
		if !report.OK {
			return fmt.Errorf("%w: %d", errChecksFailed, len(report.Failed()))
		}
		return nil
	}
}

func doctorReport(ctx context.Context, w world) (doctor.Report, error) {
	cfg, _, err := w.loadConfig()
	if err != nil {
		if len(config.Errors(err)) == 0 {
			return doctor.Report{}, err // ./.env unreadable: not a finding about the deployment
		}
		return doctor.ConfigFailure(err), nil
	}
	// Only warnings and errors: the report is the output.
	log := newLogger(w.stderr, max(cfg.LogLevel, slog.LevelWarn))
	deps, closeDeps, err := app.DoctorDeps(ctx, cfg, log)
	if err != nil {
		return doctor.ConfigFailure(err), nil
	}
	defer closeDeps()
	return doctor.Run(ctx, deps), nil
}
