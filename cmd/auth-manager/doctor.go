package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/doctor"
)

// errChecksFailed makes doctor exit non-zero once the report is printed.
var errChecksFailed = errors.New("doctor: some checks failed")

// runDoctor checks the deployment this environment describes and prints one line per
// check (--json: one JSON object). It fails when any check failed. A configuration
// that does not load is itself the first failed check, not an error before the report.
func runDoctor(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	report, err := doctorReport(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := report.WriteJSON(stdout); err != nil {
			return err
		}
	} else {
		report.WriteText(stdout)
	}
	if !report.OK {
		return fmt.Errorf("%w: %d", errChecksFailed, len(report.Failed()))
	}
	return nil
}

func doctorReport(ctx context.Context, getenv config.Getenv, stderr io.Writer) (doctor.Report, error) {
	cfg, err := config.Load(getenv, version)
	if err != nil {
		return doctor.ConfigFailure(err), nil
	}
	// Only warnings and errors: the report is the output.
	log := newLogger(stderr, max(cfg.LogLevel, slog.LevelWarn))
	deps, closeDeps, err := app.DoctorDeps(ctx, cfg, log)
	if err != nil {
		return doctor.ConfigFailure(err), nil
	}
	defer closeDeps()
	return doctor.Run(ctx, deps), nil
}
