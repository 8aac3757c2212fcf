package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/tracing"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: auth-manager [command]

commands:
  serve                   run the HTTP service (default; applies migrations first)
  migrate [up|down|status]
                          apply, roll back one, or list migrations
  rotate-keys [--dry-run] [--batch N]
                          re-seal every vault row not under the current key
  keepalive [--dry-run]   run one pass of the offline keep-alive and clean-up job now
  doctor [--json]         check the configuration against PostgreSQL, Keycloak and the
                          vault; one line per check with the fix; exit 1 if any failed
  healthcheck [--url U]   exit 0 when the service's /health/ready answers 200
                          (default http://127.0.0.1:$PORT/health/ready)
  keygen                  print a new random AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY
  version                 print the version

Configuration comes from the environment and ./.env; see README.md.`

// run is the whole program; main only supplies its world: the arguments, the
// environment (os.LookupEnv's shape; ./.env is read into it, never into the process
// environment) and the output streams.
func run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, version)
		return nil
	case "keygen":
		return keygen(stdout)
	case "healthcheck":
		return healthcheck(ctx, args, getenv, stdout)
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, usage)
		return nil
	case "serve", "migrate", "rotate-keys", "keepalive", "doctor":
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}

	getenv, err := config.WithDotEnv(".env", getenv)
	if err != nil {
		return err
	}
	// migrate and rotate-keys read only what they use, so a migration job needs no
	// Keycloak secret and a key rotation no Keycloak at all.
	switch cmd {
	case "migrate":
		db, level, err := config.LoadDatabase(getenv)
		if err != nil {
			return err
		}
		return migrate(ctx, db, newLogger(stderr, level), args, stdout)
	case "rotate-keys":
		db, level, err := config.LoadDatabase(getenv)
		if err != nil {
			return err
		}
		keys, err := config.LoadKeys(getenv)
		if err != nil {
			return err
		}
		return rotateKeys(ctx, db, keys, newLogger(stderr, level), args, stdout)
	}
	if cmd == "doctor" {
		return runDoctor(ctx, args, getenv, stdout, stderr)
	}
	cfg, err := config.Load(getenv, version)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	if cmd == "keepalive" {
		return keepAlive(ctx, cfg, log, args, stdout)
	}
	return serve(ctx, cfg, log)
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

func migrate(ctx context.Context, db config.Database, log *slog.Logger, args []string, stdout io.Writer) error {
	action := "up"
	if len(args) > 0 {
		action = args[0]
	}
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
	switch action {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		v, _ := m.Version(ctx)
		fmt.Fprintf(stdout, "applied %d migration(s); schema version %d\n", n, v)
	case "down":
		ok, err := m.Down(ctx)
		if err != nil {
			return err
		}
		v, _ := m.Version(ctx)
		if !ok {
			fmt.Fprintln(stdout, "nothing to roll back")
		}
		fmt.Fprintf(stdout, "schema version %d\n", v)
	case "status":
		return m.Status(ctx, stdout)
	default:
		return errors.New("migrate: expected up, down or status")
	}
	return nil
}
