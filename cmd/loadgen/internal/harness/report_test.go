package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRun is a run (shared placement only) whose figures meet some objectives and miss
// others. Every point serves 1000 requests, so CPU per request is CPU / 1000.
func fakeRun() *Run {
	pt := func(c int, p50, p99, cpu time.Duration, rss int64) Point {
		return Point{Result: Result{Concurrency: c, Requests: 1000, RPS: 1000, P50: p50, P90: p50, P99: p99, Max: p99},
			Usage: Usage{CPU: cpu, PeakRSS: rss, Sockets: c + 30, PeakExact: true}, HasUsage: true}
	}
	sc := func(key string, pts ...Point) *Scenario {
		return &Scenario{Key: key, Title: key, What: key, Points: pts}
	}
	ext := func(c int, p50 time.Duration) Point { // the driver's own work (baseline BC)
		return Point{Result: Result{Concurrency: c, Requests: 10, RPS: 100, P50: p50, P99: 2 * p50}}
	}
	ms := time.Millisecond
	return &Run{
		Date: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), Commit: "abc123",
		Config: Config{Levels: []int{1, 16, 128}, WideConns: 500, Warmup: time.Second, Duration: 6 * time.Second,
			MaxRequests: 10, Seed: SeedOptions{Users: 8, PerSession: 2, Callers: 2}},
		Scenarios: []*Scenario{
			sc(KeyBaselineA, pt(1, ms, 2*ms, 10*ms, 10<<20), pt(16, ms, 2*ms, 10*ms, 10<<20), pt(500, ms, 2*ms, 10*ms, 20<<20)),
			sc(KeyBaselineAReq, pt(1, ms, 2*ms, 20*ms, 10<<20), pt(16, ms, 2*ms, 20*ms, 10<<20), pt(128, ms, 2*ms, 20*ms, 10<<20)),
			sc(KeyBaselineAVal, pt(1, ms, 2*ms, 10*ms, 10<<20), pt(16, ms, 2*ms, 10*ms, 10<<20)),
			// 2× A′'s CPU, p99 under 5 ms; 40 MiB at 500 is 2× A's 20 MiB. At c=128, 9× A′
			// and 40 ms: not judged.
			sc(KeyHitIntrospect, pt(1, ms, 3*ms, 40*ms, 30<<20), pt(16, ms, 4*ms, 40*ms, 30<<20),
				pt(128, ms, 40*ms, 180*ms, 30<<20), pt(500, ms, 40*ms, 40*ms, 40<<20)),
			// p99 6 ms at c=16; 41 MiB at 500.
			sc(KeyHitJWT, pt(1, ms, 3*ms, 40*ms, 30<<20), pt(16, ms, 6*ms, 40*ms, 30<<20), pt(500, ms, 40*ms, 40*ms, 41<<20)),
			// 2.5× A′'s CPU exactly.
			sc(KeyValidateIntro, pt(1, ms, 3*ms, 25*ms, 30<<20), pt(16, ms, 3*ms, 25*ms, 30<<20)),
			sc(KeyValidateJWT, pt(1, ms, 3*ms, 20*ms, 30<<20), pt(16, ms, 3*ms, 20*ms, 30<<20)),
			sc(KeyBaselineBC, ext(1, 4*ms), ext(16, 20*ms)),
			sc(KeyCacheOff, pt(1, 5*ms, 9*ms, 10*ms, 30<<20), pt(16, 80*ms, 95*ms, 10*ms, 30<<20)),
		},
	}
}

func objectives(r *Run) map[string]Objective {
	got := map[string]Objective{}
	for _, o := range Evaluate(r) {
		got[strings.Fields(o.Name)[0]] = o
	}
	return got
}

func TestEvaluate(t *testing.T) {
	got := objectives(fakeRun())
	require.Len(t, got, 4)

	cached := got["cached"]
	assert.False(t, cached.Met, "hit-jwt's p99 is 6 ms at c=16")
	assert.Equal(t, "missed", cached.Word())
	assert.Equal(t, []string{
		"hit-introspect c=1 p99 3.00 ms, CPU 40.0 µs = 2.00× A′ (20.0 µs) ✓",
		"hit-introspect c=16 p99 4.00 ms, CPU 40.0 µs = 2.00× A′ (20.0 µs) ✓",
		"hit-jwt c=1 p99 3.00 ms, CPU 40.0 µs = 2.00× A′ (20.0 µs) ✓",
		"hit-jwt c=16 p99 6.00 ms, CPU 40.0 µs = 2.00× A′ (20.0 µs) ✗",
	}, cached.Figures, "levels above 16 are not judged")
	assert.Equal(t, "cached access token p99 < 5.00 ms and CPU per request ≤ 2.5× baseline A′ at c ≤ 16 (shared)", cached.Name)

	validate := got["validate-token"]
	assert.True(t, validate.Met, "2.5× A′ is within the objective")
	assert.Contains(t, validate.Figures[0], "validate-introspect c=1 p99 3.00 ms, CPU 25.0 µs = 2.50× A′ (10.0 µs) ✓",
		"judged against the A′ sent the validate request")

	refresh := got["refresh"]
	assert.True(t, refresh.Met)
	assert.Equal(t, []string{"cache-off c=1 p50 5.00 ms = 1.25× BC (4.00 ms) ✓"}, refresh.Figures, "c=16 is not judged")

	rss := got["peak"]
	assert.False(t, rss.Met, "hit-jwt's 41 MiB is 2.05× baseline A's 20 MiB")
	assert.Equal(t, []string{"hit-introspect 40.0 MiB = 2.00× A (20.0 MiB), 530 sockets ✓",
		"hit-jwt 41.0 MiB = 2.05× A (20.0 MiB), 530 sockets ✗"}, rss.Figures)
	assert.Equal(t, "missed: peak RSS at 500 connections ≤ 2.0× baseline A (shared): "+strings.Join(rss.Figures, "; "), rss.Line())

	r := fakeRun()
	r.Scenarios[5].Points[0].Errors = 1
	assert.False(t, objectives(r)["validate-token"].Met, "a point with errors never meets an objective")
	r.Scenarios[8].Points[0].P50 = 6 * time.Millisecond
	assert.False(t, objectives(r)["refresh"].Met, "1.5× BC")

	r.Scenarios = r.Scenarios[:1]
	for _, o := range Evaluate(r) {
		assert.True(t, o.Missing, "%s: nothing measured", o.Name)
		assert.Equal(t, "not measured", o.Word())
	}
	r = fakeRun()
	r.Config.Levels = []int{128}
	assert.True(t, objectives(r)["cached"].Missing, "no level ≤ 16 measured")
}

// TestEvaluateJudgesPinned: with both placements measured, objectives are judged on the
// pinned points.
func TestEvaluateJudgesPinned(t *testing.T) {
	r := fakeRun()
	r.Config.Placements = []Placement{Shared, Pinned}
	for _, s := range r.Scenarios {
		for _, p := range s.Points {
			p.Placement = Pinned
			if s.Key == KeyHitJWT {
				p.P99, p.Usage.PeakRSS = time.Millisecond, 30<<20 // pinned, jwt meets its objectives
			}
			s.Points = append(s.Points, p)
		}
	}
	got := objectives(r)
	assert.True(t, got["cached"].Met, "judged on pinned")
	assert.True(t, got["peak"].Met)
	assert.Contains(t, got["cached"].Name, "(pinned)")
	assert.Contains(t, got["cached"].Figures[3], "hit-jwt c=16 p99 1.00 ms")
}

func TestWriteMarkdownKeepsNotes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, WriteMarkdown(path, fakeRun()))
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, want := range []string{"# Benchmarks", "| commit | `abc123` |", "## Service-level objectives", "**met**", "**missed**",
		"### " + KeyCacheOff, NotesMarker} {
		assert.Contains(t, string(first), want)
	}

	assert.NotRegexp(t, `(?i)issue \d`, string(first), "generated text names no issue")

	hand := string(first) + "\n## Profile\n\nwritten by hand\n"
	require.NoError(t, os.WriteFile(path, []byte(hand), 0o644))
	require.NoError(t, WriteMarkdown(path, fakeRun()))
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(second), "written by hand")
	assert.Equal(t, 1, strings.Count(string(second), NotesMarker))
}

func TestPrintSummaryOneLinePerObjective(t *testing.T) {
	var b strings.Builder
	PrintSummary(&b, fakeRun())
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 5, "a heading and one line per objective")
	assert.Contains(t, lines[0], "service-level objectives (commit abc123")
	for i, word := range []string{"missed: cached access token", "met: validate-token", "met: refresh path", "missed: peak RSS"} {
		assert.True(t, strings.HasPrefix(lines[i+1], word), "%q", lines[i+1])
	}
}
