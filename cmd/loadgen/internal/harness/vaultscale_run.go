package harness

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/internal/devstack"
	"github.com/auth-manager/auth-manager/internal/store"
)

// beforeVersion is the schema the "before" statements ran on.
const beforeVersion = 5

// VaultScale runs the vault-scale benchmark (see VaultScaleConfig) on a database of its own, dropped
// at the end unless cfg.Keep.
func VaultScale(ctx context.Context, cfg VaultScaleConfig) (*VaultScaleResult, error) {
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Log, "vault-scale: "+format+"\n", args...) }
	if err := loopbackOnly("DATABASE_URL", cfg.AdminURL); err != nil {
		return nil, err
	}
	url, drop, err := devstack.CreateDatabase(ctx, cfg.AdminURL, dbPrefix)
	if err != nil {
		return nil, err
	}
	if cfg.Keep {
		logf("database kept: %s", url)
	} else {
		defer func() { _ = drop(context.WithoutCancel(ctx)) }()
	}
	st, err := store.Open(ctx, store.Options{URL: url, MaxConns: 4}, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	m, err := st.NewMigrator()
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if _, err := m.UpTo(ctx, beforeVersion); err != nil {
		return nil, err
	}

	res := &VaultScaleResult{}
	logf("seeding %d rows (%d-byte tokens)", cfg.Rows, cfg.TokenBytes)
	start := time.Now()
	if err := seedVault(ctx, st, cfg.Rows, cfg.TokenBytes, res); err != nil {
		return nil, err
	}
	if err := vacuumAnalyze(ctx, st); err != nil {
		return nil, err
	}
	res.SeedTime = time.Since(start)
	logf("seeded in %s", res.SeedTime.Round(time.Second))
	s, err := sizes(ctx, st, "before")
	if err != nil {
		return nil, err
	}
	res.Sizes = append(res.Sizes, s...)

	ring, err := VaultScaleRing()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	old, err := oldRing()
	if err != nil {
		return nil, err
	}
	staleKey := old.CurrentKeyID()
	if !cfg.MissOnly {
		logf("explaining the statements of schema %d", beforeVersion)
		if res.Before, err = explainAll(ctx, st, beforeStatements(now, staleKey, ring.CurrentKeyID())); err != nil {
			return nil, err
		}
	}

	logf("migrating")
	start = time.Now()
	if _, err := m.Up(ctx); err != nil {
		return nil, err
	}
	res.MigrateTime = time.Since(start)
	logf("migrated in %s", res.MigrateTime.Round(time.Millisecond))
	if err := vacuumAnalyze(ctx, st); err != nil {
		return nil, err
	}
	if s, err = sizes(ctx, st, "after"); err != nil {
		return nil, err
	}
	res.Sizes = append(res.Sizes, s...)
	if !cfg.MissOnly {
		logf("explaining this version's statements")
		if res.After, err = explainAll(ctx, st, store.Statements(now, staleKey)); err != nil {
			return nil, err
		}
	}
	// Before the keep-alive, which rewrites the rows it refreshes.
	if cfg.MissCalls > 0 {
		logf("access token on a cache miss: %d calls at c = 1 and c = 16, fake Keycloak at %s", cfg.MissCalls, cfg.MissLatency)
		if res.Miss, err = runMiss(ctx, url, ring, cfg.MissLatency, cfg.MissCalls, []int{1, 16}); err != nil {
			return nil, err
		}
		for _, m := range res.Miss {
			logf("  c = %d: p50 %s, p99 %s, %.1f buffers read per call", m.Concurrency, m.P50, m.P99, float64(m.Read)/float64(m.Calls))
		}
	}
	if cfg.MissOnly {
		return res, nil
	}

	fk := newFakeKeycloak(cfg.Latency)
	defer fk.srv.Close()
	for _, c := range []struct{ replicas, workers, rate int }{
		{1, 1, 10000}, {2, 1, 10000}, {2, 2, 10000}, {2, 4, 10000}, {2, 4, cfg.Rate},
	} {
		logf("keep-alive: %d replica(s) × %d worker(s), rate %d/s, for %s", c.replicas, c.workers, c.rate, cfg.KeepAliveFor)
		run, err := runKeepAlive(ctx, url, ring, fk, c.replicas, c.workers, c.rate, cfg.KeepAliveFor)
		if err != nil {
			return nil, err
		}
		logf("  %d rows in %s: %.0f rows/s, peak %d calls in a second", run.Refreshed, run.Elapsed.Round(time.Millisecond),
			run.RowsPerSecond(), run.PeakPerSecond)
		res.KeepAlive = append(res.KeepAlive, run)
	}
	return res, nil
}

// Markdown renders the result as a section of docs/BENCHMARKS.md.
func (r *VaultScaleResult) Markdown(cfg VaultScaleConfig, machine string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("Seeded: %d rows (%d OFFLINE, all idle; %d marked invalid 10 days ago; %d under a previous key; %d legacy), "+
		"tokens of %d bytes sealed for real (hex ciphertext, out of line), in %s including VACUUM ANALYZE. %s\n\n",
		r.Rows, r.Offline, r.Invalid, r.StaleKey, r.Legacy, cfg.TokenBytes, r.SeedTime.Round(time.Second), machine)
	w("| relation | before | after |\n|---|---:|---:|\n")
	seen := map[string]bool{}
	for _, s := range r.Sizes {
		if seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		w("| %s | %s | %s |\n", s.Name, r.size("before", s.Name), r.size("after", s.Name))
	}
	w("\nMigrating this table from schema %d to the latest (migration 8's indexes built inside its transaction): %s.\n\n",
		beforeVersion, r.MigrateTime.Round(time.Millisecond))
	table := func(title string, plans []Plan) {
		w("%s\n\n| statement | when | buffers (hit + read) | time | rows | reaches auth_vault by |\n|---|---|---:|---:|---:|---|\n", title)
		for _, p := range plans {
			access := p.Access
			if access == "" {
				access = "—"
			}
			w("| %s | %s | %d (%d + %d) | %.1f ms | %d | %s |\n", p.Name, p.When, p.Buffers(), p.Hit, p.Read,
				float64(p.Time.Microseconds())/1000, p.Rows, access)
		}
		w("\n")
	}
	if len(r.Before) > 0 {
		table("Before (schema 5, the statements of main at 92964fc):", r.Before)
		table("After (the latest schema, store.Statements):", r.After)
	}
	if len(r.Miss) > 0 {
		w("POST /v1/access-token on a cache miss (in-process, cache off, min_ttl forcing a refresh of a row drawn at random; "+
			"fake Keycloak answering in %s), %d calls each:\n\n", cfg.MissLatency, cfg.MissCalls)
		w("| rows | concurrency | p50 | p90 | p99 | max | calls/s | buffers per call (hit + read) |\n|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, m := range r.Miss {
			w("| %d | %d | %s | %s | %s | %s | %.0f | %.0f (%.0f + %.1f) |\n", r.Rows, m.Concurrency, ms(m.P50), ms(m.P90), ms(m.P99), ms(m.Max),
				float64(m.Calls)/m.Elapsed.Seconds(), float64(m.Hit+m.Read)/float64(m.Calls), float64(m.Hit)/float64(m.Calls),
				float64(m.Read)/float64(m.Calls))
		}
		w("\n")
	}
	if len(r.KeepAlive) == 0 {
		return b.String()
	}
	w("Keep-alive against a fake Keycloak answering in %s, %d idle OFFLINE rows, each configuration for %s:\n\n",
		cfg.Latency, r.Offline, cfg.KeepAliveFor)
	w("| replicas × workers | rate limit | rows refreshed | rows/s | failed | Keycloak calls | most calls in any 1 s | in any 10 s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range r.KeepAlive {
		limit := fmt.Sprintf("%d/s", k.Rate)
		if k.Rate >= 10000 {
			limit = "none (10 000/s)"
		}
		w("| %d × %d | %s | %d | %.0f | %d | %d | %d | %d |\n", k.Replicas, k.Workers, limit, k.Refreshed, k.RowsPerSecond(),
			k.Failed, k.Calls, k.PeakPerSecond, k.PeakPer10s)
	}
	return b.String()
}

func (r *VaultScaleResult) size(when, name string) string {
	for _, s := range r.Sizes {
		if s.When == when && s.Name == name {
			return fmt.Sprintf("%.1f MB", float64(s.Bytes)/(1<<20))
		}
	}
	return "—"
}
