package loadgen

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRun is a run whose figures meet every target except the cache-disabled one.
func fakeRun() *Run {
	pt := func(c int, rps float64, p50, p99 time.Duration, rss int64) Point {
		return Point{Result: Result{Concurrency: c, Requests: 1000, RPS: rps, P50: p50, P90: p50, P99: p99, Max: p99},
			Usage: Usage{CPU: time.Second, PeakRSS: rss, Sockets: c + 30, PeakExact: true}, HasUsage: true}
	}
	sc := func(key string, pts ...Point) *Scenario {
		return &Scenario{Key: key, Title: key, What: key, Points: pts}
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
				pt(500, 1500, time.Millisecond, 40*time.Millisecond, 50<<20)),
			sc(KeyHitJWT, pt(1, 900, time.Millisecond, 3*time.Millisecond, 30<<20), pt(16, 1500, time.Millisecond, 6*time.Millisecond, 30<<20),
				pt(500, 1500, time.Millisecond, 40*time.Millisecond, 70<<20)),
			sc(KeyValidateJWT, pt(1, 800, time.Millisecond, 3*time.Millisecond, 30<<20), pt(16, 1500, time.Millisecond, 3*time.Millisecond, 30<<20)),
			{Key: KeyBaselineB, Title: "b", What: "b", Points: []Point{
				{Result: Result{Concurrency: 1, Requests: 10, RPS: 100, P50: 10 * time.Millisecond, P99: 20 * time.Millisecond}},
				{Result: Result{Concurrency: 16, Requests: 10, RPS: 200, P50: 50 * time.Millisecond, P99: 90 * time.Millisecond}}}},
			sc(KeyCacheOff, pt(1, 90, 10*time.Millisecond, 30*time.Millisecond, 30<<20), pt(16, 150, 80*time.Millisecond, 95*time.Millisecond, 30<<20)),
		},
	}
}

func TestEvaluate(t *testing.T) {
	got := map[string]Verdict{}
	for _, v := range Evaluate(fakeRun()) {
		got[strings.Fields(v.Target)[0]] = v
	}
	require.Len(t, got, 5)
	assert.True(t, got[KeyHitIntrospect+":"].Met, "0.9× and 0.85×, p99 under 5 ms")
	assert.False(t, got[KeyHitJWT+":"].Met, "p99 6 ms at c=16")
	assert.False(t, got[KeyCacheOff+":"].Met, "p50 1.6× baseline B at c=16")
	assert.True(t, got[KeyValidateJWT+":"].Met, "0.8× and 0.75×")
	rss := got["peak"]
	assert.False(t, rss.Met, "jwt's 70 MiB is over 64 MB")
	assert.Len(t, rss.Details, 3, "two scenarios and the baseline A reference")

	r := fakeRun()
	r.Scenarios[2].Points[0].Errors = 1
	for _, v := range Evaluate(r) {
		if strings.HasPrefix(v.Target, KeyHitIntrospect) {
			assert.False(t, v.Met, "a point with errors never meets a target")
		}
	}
	r.Scenarios = r.Scenarios[:2]
	for _, v := range Evaluate(r) {
		assert.True(t, v.Missing, "%s: nothing measured", v.Target)
		assert.Equal(t, "not measured", verdictWord(v))
	}
}

func TestWriteMarkdownKeepsNotes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	require.NoError(t, WriteMarkdown(path, "bench.svg", fakeRun()))
	first, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, want := range []string{"# Benchmarks", "| commit | `abc123` |", "## Targets (issue 9)", "**met**", "**not met**",
		"![req/s and p99 against concurrency per scenario](bench.svg)", "### " + KeyCacheOff, NotesMarker} {
		assert.Contains(t, string(first), want)
	}

	hand := string(first) + "\n## Profile\n\nwritten by hand\n"
	require.NoError(t, os.WriteFile(path, []byte(hand), 0o644))
	require.NoError(t, WriteMarkdown(path, "bench.svg", fakeRun()))
	second, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(second), "written by hand")
	assert.Equal(t, 1, strings.Count(string(second), NotesMarker))
}

func TestChartIsWellFormedSVG(t *testing.T) {
	svg := Chart(fakeRun())
	dec := xml.NewDecoder(bytes.NewReader(svg))
	polylines, root := 0, ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "polyline" {
				polylines++
			}
		}
	}
	assert.Equal(t, "svg", root)
	assert.Equal(t, 2*7, polylines, "a req/s line and a p99 line per scenario")
	assert.Contains(t, string(svg), KeyCacheOff)
}

func TestDecades(t *testing.T) {
	seq := func(vs ...float64) func(func(float64)) {
		return func(yield func(float64)) {
			for _, v := range vs {
				yield(v)
			}
		}
	}
	lo, hi := decades(seq(0.35, 42, 1200))
	assert.Equal(t, [2]float64{0.1, 10000}, [2]float64{lo, hi})
	lo, hi = decades(seq())
	assert.Equal(t, [2]float64{1, 10}, [2]float64{lo, hi})
	lo, hi = decades(seq(100))
	assert.Equal(t, [2]float64{100, 1000}, [2]float64{lo, hi})
}
