package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/tracing"
)

// env is the command's environment with ./.env layered behind it (nil when there is
// no .env in the working directory).
func (w world) env() (config.Getenv, *config.DotEnv, error) {
	dot, err := config.ReadDotEnv(".env")
	if err != nil {
		return nil, nil, err
	}
	return dot.Over(w.getenv), dot, nil
}

// loadConfig reads the whole configuration and builds the logger it asks for. The
// build's version and commit are the defaults of APP_VERSION and COMMIT_SHA.
func (w world) loadConfig() (config.Config, *slog.Logger, error) {
	getenv, dot, err := w.env()
	if err != nil {
		return config.Config{}, nil, err
	}
	b := currentBuild()
	cfg, err := config.Load(getenv, b.Version)
	if err != nil {
		return config.Config{}, nil, err
	}
	if cfg.CommitSHA == "" {
		cfg.CommitSHA = b.Commit
	}
	log := newLogger(w.stderr, cfg.LogLevel)
	logDotEnv(log, dot)
	return cfg, log, nil
}

// logDotEnv says that ./.env was read, so that a stray file is never silent, and at
// DEBUG which of its variables were used: names only, never values.
func logDotEnv(log *slog.Logger, dot *config.DotEnv) {
	if dot == nil {
		return
	}
	path, err := filepath.Abs(dot.Path)
	if err != nil {
		path = dot.Path
	}
	log.Info("configuration read from .env as well as the environment", "path", path, "variables", len(dot.Keys()))
	log.Debug(".env variables", "used", dot.Used(), "not_used", dot.Unused())
}

// report writes a fatal error as JSON log lines on w, like every other line the
// program writes: one line per configuration problem, naming its variable, else one
// line. It returns the exit status: 2 for a refused command line, 1 otherwise.
func report(w io.Writer, err error) int {
	log := newLogger(w, slog.LevelInfo)
	if problems := config.Errors(err); len(problems) > 0 {
		for _, p := range problems {
			log.Error("invalid configuration", "variable", p.Var, "problem", p.Problem)
		}
		return 1
	}
	var usage usageError
	if errors.As(err, &usage) {
		log.Error("usage", "error", usage.msg)
		return 2
	}
	log.Error("fatal", "error", err.Error())
	return 1
}

func serveCommand(_ *flag.FlagSet, w world) action {
	return func(ctx context.Context, _ []string) error {
		cfg, log, err := w.loadConfig()
		if err != nil {
			return err
		}
		return serve(ctx, cfg, log)
	}
}

func migrateCommand(fs *flag.FlagSet, w world) action {
	yes := fs.Bool("yes", false, "let down roll back: the newest migration's tables and columns are dropped, with their data")
	return func(ctx context.Context, args []string) error {
		direction := "up"
		if len(args) > 0 {
			direction = args[0]
		}
		if direction != "up" && direction != "down" && direction != "status" {
			return usageErrorf("migrate: expected up, down or status, not %q", direction)
		}
		getenv, dot, err := w.env()
		if err != nil {
			return err
		}
		db, level, err := config.LoadDatabase(getenv)
		if err != nil {
			return err
		}
		log := newLogger(w.stderr, level)
		logDotEnv(log, dot)
		return migrate(ctx, db, log, direction, *yes, w.stdout)
	}
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func keygen(stdout io.Writer) error {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return err
	}
	fmt.Fprintln(stdout, hex.EncodeToString(k[:]))
	return nil
}

// serve runs the service.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	var opts []app.Option
	tp, err := tracing.NewProvider(ctx, cfg.Tracing, cfg.AppVersion)
	if err != nil {
		return err
	}
	if tp != nil {
		// Flush the last spans once the server has drained.
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = tp.Shutdown(sctx)
		}()
		opts = append(opts, app.WithTracerProvider(tp))
		log.Info("tracing on", "service", cfg.Tracing.ServiceName)
	}
	a, err := app.New(ctx, cfg, log, opts...)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return err
	}
	// doctor's checks once, in the background: misconfiguration shows at start as
	// auth_manager_doctor_check{ok="false"} and one WARN per failed check, not later
	// as a failing request.
	record := a.Metrics.RegisterDoctor()
	go a.Doctor(ctx).Export(record, log)
	return a.Serve(ctx, ln)
}

func migrate(ctx context.Context, db config.Database, log *slog.Logger, direction string, yes bool, stdout io.Writer) error {
	st, err := app.OpenStore(ctx, db, log)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := st.NewMigrator()
	if err != nil {
		return err
	}
	defer m.Close()
	switch direction {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		v, _ := m.Version(ctx)
		fmt.Fprintf(stdout, "applied %d migration(s); schema version %d\n", n, v)
	case "down":
		plan, ok, err := m.PlanDown(ctx)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(stdout, "nothing to roll back")
			return nil
		}
		if !yes {
			fmt.Fprintf(stdout, "migrate down would roll back %s (schema version %d), running:\n\n%s\n\n",
				plan.File, plan.Version, plan.SQL)
			return usageErrorf("migrate down: nothing done; run `auth-manager migrate down --yes` to roll back %s", plan.File)
		}
		if _, err := m.Down(ctx); err != nil {
			return err
		}
		v, _ := m.Version(ctx)
		fmt.Fprintf(stdout, "rolled back %s; schema version %d\n", plan.File, v)
	case "status":
		return m.Status(ctx, stdout)
	}
	return nil
}
