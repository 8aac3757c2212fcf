package harness

import (
	"fmt"
	"strings"
	"time"
)

// The service-level objectives a run is judged on, each against a baseline measured in
// the same run.
const (
	// Cached access token and validate-token: p99 under cachedP99 at every measured
	// level up to cachedMaxConc, with CPU per request at most cachedCPULimit × baseline
	// A′'s (the bare handler sent the same request) at the same level.
	cachedP99      = 5 * time.Millisecond
	cachedMaxConc  = 16
	cachedCPULimit = 2.5
	// The refresh path (cache disabled): p50 at most refreshLimit × baseline BC's at
	// concurrency refreshConc.
	refreshLimit = 1.25
	refreshConc  = 1
	// Peak RSS of the cached paths at Config.WideConns connections: at most rssLimit ×
	// baseline A's at the same number.
	rssLimit = 2.0
)

// Objective is one service-level objective judged on a run.
type Objective struct {
	Name    string   // what is promised, and on which placement
	Figures []string // what it was judged on, one entry per scenario and level
	Met     bool
	Missing bool // a scenario it needs was not measured
}

// Word is the verdict: met, missed or not measured.
func (o Objective) Word() string {
	switch {
	case o.Missing:
		return "not measured"
	case o.Met:
		return "met"
	}
	return "missed"
}

// Line is the objective on one line: verdict, promise, figures.
func (o Objective) Line() string {
	return fmt.Sprintf("%s: %s: %s", o.Word(), o.Name, strings.Join(o.Figures, "; "))
}

// Evaluate judges the objectives on the judged placement (pinned when the run measured
// it). A point with errors never meets an objective.
func Evaluate(r *Run) []Objective {
	return []Objective{
		r.cached("cached access token", KeyBaselineAReq, KeyHitIntrospect, KeyHitJWT),
		r.cached("validate-token", KeyBaselineAVal, KeyValidateIntro, KeyValidateJWT),
		r.refresh(),
		r.rss(),
	}
}

// objective starts an objective named name on placement pl; it is met until a figure
// misses it.
func objective(name string, pl Placement) Objective {
	return Objective{Name: name + " (" + pl.String() + ")", Met: true}
}

// judge records one figure: good or not, or missing when its points were not measured.
func (o *Objective) judge(figure string, good, measured bool) {
	if !measured {
		o.Missing, o.Met = true, false
		o.Figures = append(o.Figures, figure+": not measured")
		return
	}
	o.Met = o.Met && good
	o.Figures = append(o.Figures, figure+" "+mark(good))
}

// cached: each of keys has p99 < cachedP99 and CPU per request ≤ cachedCPULimit × the
// floor's (baseline A′ sent the same request) at every level ≤ cachedMaxConc.
func (r *Run) cached(what, floor string, keys ...string) Objective {
	pl := r.judged()
	o := objective(fmt.Sprintf("%s p99 < %s and CPU per request ≤ %.1f× baseline A′ at c ≤ %d", what,
		ms(cachedP99), cachedCPULimit, cachedMaxConc), pl)
	judged := false
	for _, key := range keys {
		for _, c := range r.Config.Levels {
			if c > cachedMaxConc {
				continue
			}
			judged = true
			figure := fmt.Sprintf("%s c=%d", key, c)
			p, ok := pointIn(r, key, c, pl)
			f, fok := pointIn(r, floor, c, pl)
			if !ok || !fok || !p.HasUsage || !f.HasUsage || p.Requests == 0 || f.Requests == 0 || cpuPerReq(f) == 0 {
				o.judge(figure, false, false)
				continue
			}
			ratio := cpuPerReq(p) / cpuPerReq(f)
			good := p.P99 < cachedP99 && ratio <= cachedCPULimit && p.Errors == 0
			o.judge(fmt.Sprintf("%s p99 %s, CPU %s = %.2f× A′ (%s)%s", figure, ms(p.P99), us(cpuPerReq(p)), ratio,
				us(cpuPerReq(f)), errNote(p)), good, true)
		}
	}
	if !judged {
		o.judge(fmt.Sprintf("no level ≤ %d", cachedMaxConc), false, false)
	}
	return o
}

// refresh: the cache-disabled path's p50 ≤ refreshLimit × baseline BC's at c =
// refreshConc.
func (r *Run) refresh() Objective {
	pl := r.judged()
	o := objective(fmt.Sprintf("refresh path p50 ≤ %.2f× baseline BC at c = %d", refreshLimit, refreshConc), pl)
	figure := fmt.Sprintf("%s c=%d", KeyCacheOff, refreshConc)
	p, ok := pointIn(r, KeyCacheOff, refreshConc, pl)
	bc, bok := pointIn(r, KeyBaselineBC, refreshConc, pl)
	if !ok || !bok || p.Requests == 0 || bc.Requests == 0 || bc.P50 == 0 {
		o.judge(figure, false, false)
		return o
	}
	ratio := p.P50.Seconds() / bc.P50.Seconds()
	o.judge(fmt.Sprintf("%s p50 %s = %.2f× BC (%s)%s", figure, ms(p.P50), ratio, ms(bc.P50), errNote(p)),
		ratio <= refreshLimit && p.Errors == 0 && bc.Errors == 0, true)
	return o
}

// rss: the cached paths' peak RSS at the wide level ≤ rssLimit × baseline A's there.
func (r *Run) rss() Objective {
	pl, wide := r.judged(), r.Config.WideConns
	o := objective(fmt.Sprintf("peak RSS at %d connections ≤ %.1f× baseline A", wide, rssLimit), pl)
	a, aok := pointIn(r, KeyBaselineA, wide, pl)
	for _, key := range []string{KeyHitIntrospect, KeyHitJWT} {
		p, ok := pointIn(r, key, wide, pl)
		if !ok || !aok || !p.HasUsage || !a.HasUsage || a.Usage.PeakRSS == 0 {
			o.judge(key, false, false)
			continue
		}
		ratio := float64(p.Usage.PeakRSS) / float64(a.Usage.PeakRSS)
		o.judge(fmt.Sprintf("%s %s = %.2f× A (%s), %d sockets%s", key, mib(p.Usage.PeakRSS), ratio,
			mib(a.Usage.PeakRSS), p.Usage.Sockets, errNote(p)), ratio <= rssLimit && p.Errors == 0, true)
	}
	return o
}

// placements are the run's placements (shared when none is configured).
func (r *Run) placements() []Placement {
	if len(r.Config.Placements) == 0 {
		return []Placement{Shared}
	}
	return r.Config.Placements
}

// judged is the placement objectives are judged on: pinned when the run measured it.
func (r *Run) judged() Placement {
	for _, pl := range r.placements() {
		if pl == Pinned {
			return Pinned
		}
	}
	return Shared
}

// cpuPerReq is the measured process's CPU seconds per request over the window.
func cpuPerReq(p Point) float64 {
	if !p.HasUsage || p.Requests == 0 {
		return 0
	}
	return p.Usage.CPU.Seconds() / float64(p.Requests)
}

func pointIn(r *Run, key string, c int, pl Placement) (Point, bool) {
	s := r.Scenario(key)
	if s == nil {
		return Point{}, false
	}
	return s.AtIn(c, pl)
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
