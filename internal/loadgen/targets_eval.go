package loadgen

import (
	"fmt"
	"strings"
)

// The targets.
const (
	hitRatioTarget      = 0.8
	hitP99Target        = 5e-3 // seconds
	noCacheLatencyLimit = 1.1
	jwtValidateTarget   = 0.7
	rssLimitBytes       = 64_000_000 // "64 MB", read strictly as 10^6 bytes (61.0 MiB)
)

// Verdict is one target checked against a run.
type Verdict struct {
	Target  string
	Details []string // one line per concurrency level or scenario
	Met     bool
	Missing bool // a scenario the target needs was not measured
}

// baselineA is baseline A's req/s and p99 at c: the mean of the start and end
// measurements when both exist.
func (r *Run) baselineA(c int) (rps float64, p99 float64, ok bool) {
	var n int
	for _, key := range []string{KeyBaselineA, KeyBaselineAEnd} {
		if s := r.Scenario(key); s != nil {
			if p, found := s.At(c); found {
				rps += p.RPS
				p99 += p.P99.Seconds()
				n++
			}
		}
	}
	if n == 0 {
		return 0, 0, false
	}
	return rps / float64(n), p99 / float64(n), true
}

// Evaluate checks the targets. A point with errors never meets a target.
func Evaluate(r *Run) []Verdict {
	var out []Verdict
	levels := r.Config.Levels
	for _, key := range []string{KeyHitIntrospect, KeyHitJWT} {
		v := Verdict{Target: fmt.Sprintf("%s: ≥ %.1f× baseline A req/s and p99 < %s", key, hitRatioTarget, ms(5e6)), Met: true}
		for _, c := range levels {
			p, ok := point(r, key, c)
			arps, _, aok := r.baselineA(c)
			if !ok || !aok {
				v.Missing, v.Met = true, false
				continue
			}
			ratio := p.RPS / arps
			good := ratio >= hitRatioTarget && p.P99.Seconds() < hitP99Target && p.Errors == 0
			v.Met = v.Met && good
			v.Details = append(v.Details, fmt.Sprintf("c=%d: %.2f× (%.0f vs %.0f req/s), p99 %s%s %s", c, ratio, p.RPS, arps,
				ms(p.P99), errNote(p), mark(good)))
		}
		out = append(out, v)
	}

	v := Verdict{Target: fmt.Sprintf("%s: latency ≤ %.1f× baseline B (judged on p50; p99 shown)", KeyCacheOff, noCacheLatencyLimit), Met: true}
	for _, c := range levels {
		p, ok := point(r, KeyCacheOff, c)
		b, bok := point(r, KeyBaselineB, c)
		if !ok || !bok || b.P50 == 0 {
			v.Missing, v.Met = true, false
			continue
		}
		r50 := p.P50.Seconds() / b.P50.Seconds()
		r99 := p.P99.Seconds() / max(b.P99.Seconds(), 1e-9)
		good := r50 <= noCacheLatencyLimit && p.Errors == 0
		v.Met = v.Met && good
		v.Details = append(v.Details, fmt.Sprintf("c=%d: p50 %.2f× (%s vs %s), p99 %.2f× (%s vs %s)%s %s", c, r50, ms(p.P50), ms(b.P50),
			r99, ms(p.P99), ms(b.P99), errNote(p), mark(good)))
	}
	out = append(out, v)

	v = Verdict{Target: fmt.Sprintf("%s: ≥ %.1f× baseline A req/s", KeyValidateJWT, jwtValidateTarget), Met: true}
	for _, c := range levels {
		p, ok := point(r, KeyValidateJWT, c)
		arps, _, aok := r.baselineA(c)
		if !ok || !aok {
			v.Missing, v.Met = true, false
			continue
		}
		ratio := p.RPS / arps
		good := ratio >= jwtValidateTarget && p.Errors == 0
		v.Met = v.Met && good
		v.Details = append(v.Details, fmt.Sprintf("c=%d: %.2f× (%.0f vs %.0f req/s)%s %s", c, ratio, p.RPS, arps, errNote(p), mark(good)))
	}
	out = append(out, v)

	wide := r.Config.WideConns
	v = Verdict{Target: fmt.Sprintf("peak RSS < 64 MB (%.1f MiB) at %d concurrent connections", float64(rssLimitBytes)/(1<<20), wide), Met: true}
	for _, key := range []string{KeyHitIntrospect, KeyHitJWT} {
		p, ok := point(r, key, wide)
		if !ok || !p.HasUsage {
			v.Missing, v.Met = true, false
			continue
		}
		good := p.Usage.PeakRSS < rssLimitBytes && p.Errors == 0
		v.Met = v.Met && good
		v.Details = append(v.Details, fmt.Sprintf("%s c=%d: %s peak RSS, %d sockets open%s %s", key, wide, mib(p.Usage.PeakRSS),
			p.Usage.Sockets, errNote(p), mark(good)))
	}
	if p, ok := point(r, KeyBaselineA, wide); ok && p.HasUsage {
		v.Details = append(v.Details, fmt.Sprintf("(reference: baseline A at c=%d: %s)", wide, mib(p.Usage.PeakRSS)))
	}
	out = append(out, v)
	return out
}

func point(r *Run, key string, c int) (Point, bool) {
	s := r.Scenario(key)
	if s == nil {
		return Point{}, false
	}
	return s.At(c)
}

func errNote(p Point) string {
	if p.Errors == 0 {
		return ""
	}
	return fmt.Sprintf(", %d errors", p.Errors)
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// verdictWord is how a verdict reads in a table.
func verdictWord(v Verdict) string {
	switch {
	case v.Missing:
		return "not measured"
	case v.Met:
		return "**met**"
	}
	return "**not met**"
}

// ratioLines are the ratios printed to stdout at the end of a run.
func ratioLines(r *Run) []string {
	var out []string
	for _, v := range Evaluate(r) {
		out = append(out, fmt.Sprintf("%-9s %s", strings.Trim(verdictWord(v), "*"), v.Target))
		for _, d := range v.Details {
			out = append(out, "            "+d)
		}
	}
	return out
}
