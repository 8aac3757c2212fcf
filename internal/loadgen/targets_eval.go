package loadgen

import (
	"fmt"
	"time"
)

// placements are the run's placements (shared when none is configured).
func (r *Run) placements() []Placement {
	if len(r.Config.Placements) == 0 {
		return []Placement{Shared}
	}
	return r.Config.Placements
}

// judged is the placement targets are judged on: pinned when the run measured it.
func (r *Run) judged() Placement {
	for _, pl := range r.placements() {
		if pl == Pinned {
			return Pinned
		}
	}
	return Shared
}

// other is the placement shown next to the judged one, if the run measured it.
func (r *Run) other() (Placement, bool) {
	if r.judged() == Pinned && len(r.placements()) > 1 {
		return Shared, true
	}
	return 0, false
}

// mean is the mean of f over the start and end measurements of a baseline at c in
// pl (either alone when only one exists).
func (r *Run) mean(keys [2]string, c int, pl Placement, f func(Point) float64) (float64, bool) {
	var sum float64
	var n int
	for _, key := range keys {
		if p, ok := pointIn(r, key, c, pl); ok && p.Requests > 0 {
			sum += f(p)
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

var (
	keysA = [2]string{KeyBaselineA, KeyBaselineAEnd}
	keysC = [2]string{KeyBaselineC, ""}
)

func rpsOf(p Point) float64 { return p.RPS }
func p50Of(p Point) float64 { return p.P50.Seconds() }
func p99Of(p Point) float64 { return p.P99.Seconds() }

// cpuPerReq is the measured process's CPU seconds per request over the window.
func cpuPerReq(p Point) float64 {
	if !p.HasUsage || p.Requests == 0 {
		return 0
	}
	return p.Usage.CPU.Seconds() / float64(p.Requests)
}

// baselineA is baseline A's req/s and p99 (seconds) at c in pl: the mean of the start
// and end measurements when both exist.
func (r *Run) baselineA(c int, pl Placement) (rps, p99 float64, ok bool) {
	rps, ok = r.mean(keysA, c, pl, rpsOf)
	p99, _ = r.mean(keysA, c, pl, p99Of)
	return rps, p99, ok
}

// Evaluate checks the targets on the judged placement (pinned when measured),
// showing the other placement's figure next to each. A point with errors never meets
// a target.
func Evaluate(r *Run) []Verdict {
	var out []Verdict
	for _, key := range []string{KeyHitIntrospect, KeyHitJWT} {
		out = append(out, r.ratioTarget(key, hitRatioTarget, true))
	}
	for _, key := range []string{KeyValidateIntro, KeyValidateJWT} {
		out = append(out, r.ratioTarget(key, validateTarget, false))
	}
	out = append(out, r.noCacheTarget(), r.rssTarget(), r.cpuTarget())
	return out
}

// ratioTarget: req/s ≥ target × baseline A's at every level (and p99 < 5 ms at
// c ≤ 16 when withP99).
func (r *Run) ratioTarget(key string, target float64, withP99 bool) Verdict {
	pl := r.judged()
	name := fmt.Sprintf("%s: ≥ %.1f× baseline A req/s", key, target)
	if withP99 {
		name += fmt.Sprintf(", p99 < %s at c ≤ %d", ms(5*time.Millisecond), hitP99MaxConc)
	}
	v := Verdict{Target: name + " (" + pl.String() + ")", Met: true}
	for _, c := range r.Config.Levels {
		p, ok := pointIn(r, key, c, pl)
		arps, _, aok := r.baselineA(c, pl)
		if !ok || !aok {
			v.Missing, v.Met = true, false
			continue
		}
		ratio := p.RPS / arps
		good := ratio >= target && p.Errors == 0
		p99 := ""
		if withP99 && c <= hitP99MaxConc {
			good = good && p.P99.Seconds() < hitP99Target
			p99 = ", p99 " + ms(p.P99)
		}
		v.Met = v.Met && good
		d := fmt.Sprintf("c=%d: %.2f× (%.0f vs %.0f req/s)%s%s %s", c, ratio, p.RPS, arps, p99, errNote(p), mark(good))
		if withP99 { // the cache-hit request sent to baseline A's handler: the floor of this ratio
			if fl, ok := pointIn(r, KeyBaselineAReq, c, pl); ok && fl.Requests > 0 {
				d += fmt.Sprintf(" [A′ %.2f×]", fl.RPS/arps)
			}
		}
		if o, has := r.other(); has {
			if op, ok := pointIn(r, key, c, o); ok {
				if oa, _, ok := r.baselineA(c, o); ok {
					d += fmt.Sprintf(" — %s: %.2f×", o, op.RPS/oa)
				}
			}
		}
		v.Details = append(v.Details, d)
	}
	return v
}

// baselineBNear is baseline B's p50 at c in pl as measured closest in time to the
// cache-disabled scenario: the end-of-run measurement, which directly follows it (else
// the start's). Keycloak is shared with the other engineers' tests, and its speed can
// change many times over between the start and the end of a run; the start's figure
// is shown next to it.
func (r *Run) baselineBNear(c int, pl Placement) (float64, bool) {
	if p, ok := pointIn(r, KeyBaselineBEnd, c, pl); ok && p.Requests > 0 {
		return p50Of(p), true
	}
	if p, ok := pointIn(r, KeyBaselineB, c, pl); ok && p.Requests > 0 {
		return p50Of(p), true
	}
	return 0, false
}

// noCacheTarget: the cache-disabled p50 within 1.1× of baseline B's p50 plus
// baseline C's (one PostgreSQL commit), judged at c ≤ 16.
func (r *Run) noCacheTarget() Verdict {
	pl := r.judged()
	v := Verdict{Target: fmt.Sprintf("%s: p50 ≤ %.1f× (baseline B at the end + baseline C) p50 at c ≤ %d (%s)", KeyCacheOff,
		noCacheLatencyLimit, noCacheMaxConc, pl), Met: true}
	for _, c := range r.Config.Levels {
		p, ok := pointIn(r, KeyCacheOff, c, pl)
		b, bok := r.baselineBNear(c, pl)
		cc, cok := r.mean(keysC, c, pl, p50Of)
		if !ok || !bok || !cok || b+cc == 0 {
			if c <= noCacheMaxConc {
				v.Missing, v.Met = true, false
			}
			continue
		}
		ratio := p.P50.Seconds() / (b + cc)
		d := fmt.Sprintf("c=%d: %.2f× (%s vs B %s + C %s), %.2f× B alone%s", c, ratio, ms(p.P50),
			ms(secs(b)), ms(secs(cc)), p.P50.Seconds()/b, errNote(p))
		if bs, ok := pointIn(r, KeyBaselineB, c, pl); ok && bs.Requests > 0 {
			d += fmt.Sprintf(" [B at the start of the run: %s]", ms(bs.P50))
		}
		if bc, ok := pointIn(r, KeyBaselineBC, c, pl); ok && bc.Requests > 0 { // the floor: B inside C, by the driver
			d += fmt.Sprintf(" [BC %s: %.2f× BC]", ms(bc.P50), p.P50.Seconds()/bc.P50.Seconds())
		}
		if c <= noCacheMaxConc {
			good := ratio <= noCacheLatencyLimit && p.Errors == 0
			v.Met = v.Met && good
			d += " " + mark(good)
		} else {
			d += " (not judged)"
		}
		v.Details = append(v.Details, d)
	}
	return v
}

// rssTarget: peak RSS at the wide level ≤ 1.5× baseline A's at the same level.
func (r *Run) rssTarget() Verdict {
	pl, wide := r.judged(), r.Config.WideConns
	v := Verdict{Target: fmt.Sprintf("peak RSS ≤ %.1f× baseline A's at %d connections (%s)", rssRatioLimit, wide, pl), Met: true}
	a, aok := pointIn(r, KeyBaselineA, wide, pl)
	if !aok || !a.HasUsage || a.Usage.PeakRSS == 0 {
		return Verdict{Target: v.Target, Missing: true}
	}
	for _, key := range []string{KeyHitIntrospect, KeyHitJWT} {
		p, ok := pointIn(r, key, wide, pl)
		if !ok || !p.HasUsage {
			v.Missing, v.Met = true, false
			continue
		}
		ratio := float64(p.Usage.PeakRSS) / float64(a.Usage.PeakRSS)
		good := ratio <= rssRatioLimit && p.Errors == 0
		v.Met = v.Met && good
		v.Details = append(v.Details, fmt.Sprintf("%s: %.2f× (%s vs %s), %d sockets open%s %s", key, ratio,
			mib(p.Usage.PeakRSS), mib(a.Usage.PeakRSS), p.Usage.Sockets, errNote(p), mark(good)))
	}
	return v
}

// cpuTarget: CPU per request of the cached paths ≤ 2× baseline A's, at every level.
func (r *Run) cpuTarget() Verdict {
	pl := r.judged()
	v := Verdict{Target: fmt.Sprintf("CPU per 1k cached requests ≤ %.0f× baseline A's (%s)", cpuRatioLimit, pl), Met: true}
	for _, key := range []string{KeyHitIntrospect, KeyHitJWT, KeyValidateIntro, KeyValidateJWT} {
		line := key + ":"
		for _, c := range r.Config.Levels {
			p, ok := pointIn(r, key, c, pl)
			a, aok := r.mean(keysA, c, pl, cpuPerReq)
			if !ok || !aok || a == 0 || !p.HasUsage {
				v.Missing, v.Met = true, false
				continue
			}
			ratio := cpuPerReq(p) / a
			good := ratio <= cpuRatioLimit && p.Errors == 0
			v.Met = v.Met && good
			line += fmt.Sprintf(" c=%d %.3f s (%.2f×) %s", c, cpuPerReq(p)*1000, ratio, mark(good))
		}
		v.Details = append(v.Details, line)
	}
	return v
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func pointIn(r *Run, key string, c int, pl Placement) (Point, bool) {
	if key == "" {
		return Point{}, false
	}
	s := r.Scenario(key)
	if s == nil {
		return Point{}, false
	}
	return s.AtIn(c, pl)
}
