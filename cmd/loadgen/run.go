package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/cmd/loadgen/internal/harness"
)

// run is the whole program; main only supplies its world.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return bench(ctx, args, stdout, stderr)
	case "scale":
		return scale(ctx, args, stdout, stderr)
	case "baseline":
		fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
		fs.SetOutput(stderr)
		addr := fs.String("addr", "127.0.0.1:0", "loopback address to serve baseline A on")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return harness.ServeBaseline(ctx, *addr)
	case "vault-scale":
		return vaultScale(ctx, args, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q (run, scale, baseline, vault-scale)", cmd)
}

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		repo     = fs.String("repo", ".", "repository root (the service is built from it)")
		envFile  = fs.String("env", "deploy/dev.env", "the stack's environment file (the process environment wins)")
		out      = fs.String("out", "docs/BENCHMARKS.md", "Markdown report to write (notes below its marker are kept)")
		levels   = fs.String("levels", "1,16,128", "concurrency levels")
		wide     = fs.Int("wide", 500, "connections of the RSS check")
		warmup   = fs.Duration("warmup", time.Second, "unrecorded warm-up per point")
		duration = fs.Duration("duration", 5*time.Second, "recorded window per point")
		pin      = fs.String("pin", "both", "placements of the scenarios objectives judge: both (shared, then pinned), shared, or pinned (driver and measured process on different CPUs, taskset)")
		maxReq   = fs.Int64("max-requests", 2_000_000, "bound on requests per point")
		timeout  = fs.Duration("timeout", 15*time.Second, "per-request timeout")
		users    = fs.Int("users", 128, "Keycloak users to create, hence stored tokens (ids)")
		perSess  = fs.Int("per-session", 4, "refresh tokens per user the write path alternates")
		callers  = fs.Int("callers", 16, "distinct service-caller tokens of the cache-hit scenario")
		par      = fs.Int("seed-parallelism", 4, "concurrent Keycloak calls while seeding")
		callerID = fs.String("caller-client", "auth-manager-service-caller", "client whose tokens carry the service role")
		callerSe = fs.String("caller-secret", "service-caller-secret", "its secret (the dev realm's fixture)")
		only     = fs.String("only", "", "refresh: measure only baseline BC and the cache-disabled path (the refresh-path objective), print the objectives and write no report")
		svcEnv   envList
	)
	fs.Var(&svcEnv, "service-env", "KEY=VALUE for the service's environment on top of -env (repeatable), e.g. GOMEMLIMIT=48MiB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lv, err := parseLevels(*levels)
	if err != nil {
		return err
	}
	placements, err := harness.Placements(*pin)
	if err != nil {
		return err
	}
	if *only != "" && *only != "refresh" {
		return fmt.Errorf("-only %q: the one subset is refresh", *only)
	}
	if *users < 1 || *perSess < 1 || *callers < 1 || *par < 1 || *wide < 1 {
		return errors.New("-users, -per-session, -callers, -seed-parallelism and -wide must be positive")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	cfg := harness.Config{
		Repo: root, EnvFile: under(root, *envFile), Self: self, Levels: lv, WideConns: *wide,
		Warmup: *warmup, Duration: *duration, MaxRequests: *maxReq, Timeout: *timeout,
		Seed:     harness.SeedOptions{Users: *users, PerSession: *perSess, Callers: *callers, Parallelism: *par},
		CallerID: *callerID, CallerSecret: *callerSe, ServiceEnv: svcEnv, Placements: placements,
		RefreshOnly: *only == "refresh", Log: stderr,
	}
	r, err := harness.Execute(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.RefreshOnly {
		harness.PrintSummary(stdout, r)
		return nil
	}
	if err := harness.WriteMarkdown(under(root, *out), r); err != nil {
		return err
	}
	harness.PrintSummary(stdout, r)
	fmt.Fprintf(stdout, "\nwrote %s\n", *out)
	return nil
}

// scale runs `loadgen scale` and prints its Markdown fragment.
func scale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		repo     = fs.String("repo", ".", "repository root (the service is built from it)")
		envFile  = fs.String("env", "deploy/dev.env", "the stack's environment file (the process environment wins)")
		bin      = fs.String("bin", "", "measure this service binary instead of building the repository's")
		replicas = fs.String("replicas", "1,3,10", "replica counts of the one-refresh measurement")
		rows     = fs.Int("rows", 8, "rows of the one-refresh measurement")
		calls    = fs.Int("calls", 30, "access-token calls per row, call k to replica k mod n")
		callers  = fs.Int("callers", 10, "concurrent callers per row")
		delay    = fs.Duration("delay", 2*time.Second, "how long the proxy holds each refresh grant in the slow measurement")
		misses   = fs.Int("misses", 200, "concurrent cache misses of distinct rows in the slow measurement (0 skips it)")
		samplers = fs.Int("samplers", 4, "callers timing cache hits and GET /v1/tokens meanwhile")
		pause    = fs.Duration("pause", 10*time.Millisecond, "each sampler's pause between requests")
		callerID = fs.String("caller-client", "auth-manager-service-caller", "client whose tokens carry the service role")
		callerSe = fs.String("caller-secret", "service-caller-secret", "its secret (the dev realm's fixture)")
		svcEnv   envList
	)
	fs.Var(&svcEnv, "service-env", "KEY=VALUE for the service's environment on top of -env (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rs, err := parseLevels(*replicas)
	if err != nil {
		return err
	}
	if *rows < 1 || *calls < 1 || *callers < 1 || *misses < 0 || *samplers < 1 || *delay < 0 || *pause < 0 {
		return errors.New("-rows, -calls, -callers and -samplers must be positive; -misses, -delay and -pause not negative")
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	r, err := harness.Scale(ctx, harness.ScaleConfig{
		Repo: root, EnvFile: under(root, *envFile), Bin: *bin, Replicas: rs, Rows: *rows, Calls: *calls, Callers: *callers,
		Delay: *delay, Misses: *misses, Samplers: *samplers, Pause: *pause, ServiceEnv: svcEnv,
		CallerID: *callerID, CallerSecret: *callerSe, Log: stderr,
	})
	if err != nil {
		return err
	}
	harness.WriteScale(stdout, r)
	return nil
}

func parseLevels(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 10000 {
			return nil, fmt.Errorf("-levels: %q is not a concurrency between 1 and 10000", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-levels: none given")
	}
	return out, nil
}

// under resolves p against the repository root unless it is absolute.
func under(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// envList collects repeated KEY=VALUE flags.
type envList map[string]string

func (e *envList) String() string { return fmt.Sprint(map[string]string(*e)) }

func (e *envList) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	if *e == nil {
		*e = envList{}
	}
	(*e)[k] = val
	return nil
}
