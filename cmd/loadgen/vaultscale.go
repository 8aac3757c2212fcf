package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/auth-manager/auth-manager/cmd/loadgen/internal/harness"
	"github.com/auth-manager/auth-manager/internal/devstack"
)

// vaultScale runs `loadgen vault-scale` and prints its Markdown section on stdout (progress on
// stderr), to be pasted into docs/BENCHMARKS.md.
func vaultScale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vault-scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		envFile = fs.String("env", "deploy/dev.env", "the stack's environment file (the process environment wins)")
		rows    = fs.Int("rows", 1_000_000, "vault rows to seed (1 in 10 OFFLINE)")
		token   = fs.Int("token-bytes", 1000, "size of a stored token's plaintext")
		forEach = fs.Duration("keepalive-for", 30*time.Second, "how long each keep-alive configuration runs")
		latency = fs.Duration("latency", 20*time.Millisecond, "the fake Keycloak's answer time")
		rate    = fs.Int("rate", 100, "AUTH_MANAGER_KEEPALIVE_RATE of the rate-limited run")
		miss    = fs.Int("miss", 2000, "access tokens asked for on a cache miss at each concurrency (0 skips the step)")
		missLat = fs.Duration("miss-latency", 0, "the fake Keycloak's answer time in the cache-miss step")
		only    = fs.Bool("miss-only", false, "seed, migrate and measure the cache-miss path only (no EXPLAINs, no keep-alive)")
		keep    = fs.Bool("keep", false, "keep the database")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rows < 1000 || *token < 100 || *forEach <= 0 || *rate < 1 || *miss < 0 || *missLat < 0 || (*only && *miss == 0) {
		return fmt.Errorf("-rows ≥ 1000, -token-bytes ≥ 100, -keepalive-for > 0, -rate ≥ 1, -miss ≥ 0 (> 0 with -miss-only) and -miss-latency ≥ 0")
	}
	stack, err := devstack.Load(*envFile, os.LookupEnv)
	if err != nil {
		return err
	}
	admin := stack.Config.Database.URL.Reveal()
	cfg := harness.VaultScaleConfig{AdminURL: admin, Rows: *rows, TokenBytes: *token, KeepAliveFor: *forEach, Latency: *latency,
		Rate: *rate, MissCalls: *miss, MissLatency: *missLat, MissOnly: *only, Keep: *keep, Log: stderr}
	res, err := harness.VaultScale(ctx, cfg)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	machine := fmt.Sprintf("Run %s on %s (%d CPUs, %s), shared with other work: times are indicative, buffer counts are not.",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), runtime.Version())
	_, err = io.WriteString(stdout, res.Markdown(cfg, machine))
	return err
}
