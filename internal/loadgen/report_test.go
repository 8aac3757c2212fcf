package loadgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRun is a run (shared placement only) whose figures meet some targets and miss
// others.
func fakeRun() *Run {
	pt := func(c int, rps float64, p50, p99 time.Duration, rss int64) Point {
		return Point{Result: Result{Concurrency: c, Requests: 1000, RPS: rps, P50: p50, P90: p50, P99: p99, Max: p99},
			Usage: Usage{CPU: time.Second, PeakRSS: rss, Sockets: c + 30, PeakExact: true}, HasUsage: true}
	}
	sc := func(key string, pts ...Point) *Scenario {
		return &Scenario{Key: key, Title: key, What: key, Points: pts}
	}
	ext := func(c int, rps float64, p50, p99 time.Duration) Point { // a process that is not ours
		return Point{Result: Result{Concurrency: c, Requests: 10, RPS: rps, P50: p50, P99: p99}}
	}
	return &Run{
		Date: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), Commit: "abc123",
		Config: Config{Levels: []int{1, 16}, WideConns: 500, Warmup: time.Second, Duration: 6 * time.Second,
			MaxRequests: 10, Seed: SeedOptions{Users: 8, PerSession: 2, Callers: 2}},
		Scenarios: []*Scenario{
			sc(KeyBaselineA, pt(1, 1000, time.Millisecond, 2*time.Millisecond, 10<<20), pt(16, 2000, time.Millisecond, 2*time.Millisecond, 10<<20),
				pt(500, 2000, time.Millisecond, 2*time.Millisecond, 20<<20)),
			sc(KeyBaselineAEnd, pt(1, 1000, time.Millisecond, 2*time.Millisecond, 10<<20), pt(16, 2000, time.Millisecond, 2*time.Millisecond, 10<<20)),
			sc(KeyHitIntrospect, pt(1, 900, time.Millisecond, 3*time.Millisecond, 30<<20), pt(16, 1700, time.Millisecond, 4*time.Millisecond, 30<<20),
				pt(500, 1500, time.Millisecond, 40*time.Millisecond, 25<<20)),
			sc(KeyHitJWT, pt(1, 900, time.Millisecond, 3*time.Millisecond, 30<<20), pt(16, 1500, time.Millisecond, 6*time.Millisecond, 30<<20),
				pt(500, 1500, time.Millisecond, 40*time.Millisecond, 70<<20)),
			sc(KeyValidateIntro, pt(1, 700, time.Millisecond, 3*time.Millisecond, 30<<20), pt(16, 1500, time.Millisecond, 3*time.Millisecond, 30<<20)),
			sc(KeyValidateJWT, pt(1, 800, time.Millisecond, 3*time.Millisecond, 30<<20), pt(16, 1500, time.Millisecond, 3*time.Millisecond, 30<<20)),
			sc(KeyBaselineB, ext(1, 100, 40*time.Millisecond, 80*time.Millisecond), ext(16, 200, 50*time.Millisecond, 90*time.Millisecond)),
			sc(KeyBaselineC, ext(1, 500, 2*time.Millisecond, 3*time.Millisecond), ext(16, 3000, 5*time.Millisecond, 9*time.Millisecond)),
			sc(KeyCacheOff, pt(1, 90, 10*time.Millisecond, 30*time.Millisecond, 30<<20), pt(16, 150, 80*time.Millisecond, 95*time.Millisecond, 30<<20)),
			sc(KeyBaselineBEnd, ext(1, 100, 10*time.Millisecond, 20*time.Millisecond), ext(16, 200, 50*time.Millisecond, 90*time.Millisecond)),
		},
	}
}

func verdicts(r *Run) map[string]Verdict {
	got := map[string]Verdict{}
	for _, v := range Evaluate(r) {
		got[strings.Fields(v.Target)[0]] = v
	}
	return got
}

func TestEvaluate(t *testing.T) {
	got := verdicts(fakeRun())
	require.Len(t, got, 7)
	assert.True(t, got[KeyHitIntrospect+":"].Met, "0.9× and 0.85×, p99 under 5 ms")
	assert.False(t, got[KeyHitJWT+":"].Met, "p99 6 ms at c=16")
	assert.True(t, got[KeyValidateIntro+":"].Met, "0.7× and 0.75×")
	assert.True(t, got[KeyValidateJWT+":"].Met, "0.8× and 0.75×")
	off := got[KeyCacheOff+":"]
	assert.False(t, off.Met, "c=16: p50 80 ms against 1.1 × (50 + 5) ms")
	assert.Contains(t, off.Details[0], "c=1: 0.83× (10.0 ms vs B 10.0 ms + C 2.00 ms), 1.00× B alone [B at the start of the run: 40.0 ms] ✓",
		"judged on the B measured next to it (the end's), the start's shown")
	rss := got["peak"]
	assert.False(t, rss.Met, "jwt's 70 MiB is 3.5× baseline A's 20 MiB")
	assert.Contains(t, rss.Details[0], "hit-introspect: 1.25× (25.0 MiB vs 20.0 MiB)")
	assert.True(t, got["CPU"].Met, "the same CPU per request as baseline A")

	r := fakeRun()
	r.Scenarios[2].Points[0].Errors = 1
	assert.False(t, verdicts(r)[KeyHitIntrospect+":"].Met, "a point with errors never meets a target")
	r.Scenarios = r.Scenarios[:2]
	for _, v := range Evaluate(r) {
		assert.True(t, v.Missing, "%s: nothing measured", v.Target)
		assert.Equal(t, "not measured", verdictWord(v))
	}
}

// TestEvaluateJudgesPinned: with both placements measured, targets are judged on the
// pinned points and the shared ratio is shown next to each.
func TestEvaluateJudgesPinned(t *testing.T) {
	r := fakeRun()
	r.Config.Placements = []Placement{Shared, Pinned}
	for _, s := range r.Scenarios {
		for _, p := range s.Points {
			p.Placement = Pinned
			if s.Key == KeyHitJWT {
				p.P99, p.RPS = time.Millisecond, 1700 // pinned, jwt makes its targets
			}
			s.Points = append(s.Points, p)
		}
	}
	got := verdicts(r)
	jwt := got[KeyHitJWT+":"]
	assert.True(t, jwt.Met, "judged on pinned")
	assert.Contains(t, jwt.Target, "(pinned)")
	assert.Contains(t, jwt.Details[1], "c=16: 0.85× (1700 vs 2000 req/s), p99 1.00 ms ✓ — shared: 0.75×")
}

func TestWriteMarkdownKeepsNotes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, WriteMarkdown(path, fakeRun()))
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, want := range []string{"# Benchmarks", "| commit | `abc123` |", "## Targets", "**met**", "**not met**",
		"### " + KeyCacheOff, NotesMarker} {
		assert.Contains(t, string(first), want)
	}

	hand := string(first) + "\n## Profile\n\nwritten by hand\n"
	require.NoError(t, os.WriteFile(path, []byte(hand), 0o644))
	require.NoError(t, WriteMarkdown(path, fakeRun()))
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(second), "written by hand")
	assert.Equal(t, 1, strings.Count(string(second), NotesMarker))
}
