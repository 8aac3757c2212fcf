package loadgen

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// palette holds distinguishable colours (Okabe–Ito, then Tableau) for the series.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
	"#8C564B", "#7F7F7F", "#BCBD22", "#17BECF", "#9467BD", "#F0E442"}

// panel is one log-log plot area.
type panel struct {
	x, y, w, h float64 // plot area
	title      string
	unit       string
	lo, hi     float64 // y range, whole decades
	xs         []int   // concurrency levels
}

func (p panel) px(c int) float64 {
	lo, hi := math.Log(float64(p.xs[0])), math.Log(float64(p.xs[len(p.xs)-1]))
	if hi == lo {
		return p.x + p.w/2
	}
	return p.x + (math.Log(float64(c))-lo)/(hi-lo)*p.w
}

func (p panel) py(v float64) float64 {
	v = min(max(v, p.lo), p.hi)
	return p.y + p.h - (math.Log10(v)-math.Log10(p.lo))/(math.Log10(p.hi)-math.Log10(p.lo))*p.h
}

// Chart draws req/s and p99 against concurrency, one line per scenario, on log-log
// axes, as a self-contained SVG (no plotting dependency).
func Chart(r *Run) []byte {
	levels := slices.Clone(r.Config.Levels)
	slices.Sort(levels)
	type series struct {
		key         string
		rps, p99    []float64 // per level; NaN when missing
		dashed      bool
		colour      string
		hasAnyPoint bool
	}
	var all []series
	for i, s := range r.Scenarios {
		se := series{key: s.Key, colour: palette[i%len(palette)],
			dashed: s.Key == KeyBaselineA || s.Key == KeyBaselineAEnd || s.Key == KeyBaselineAReq || s.Key == KeyBaselineB || s.Key == KeyBaselineBEnd || s.Key == KeyBaselineC || s.Key == KeyBaselineBC}
		for _, c := range levels {
			p, ok := s.AtIn(c, r.judged())
			if !ok {
				p, ok = s.At(c)
			}
			if !ok || p.Requests == 0 {
				se.rps, se.p99 = append(se.rps, math.NaN()), append(se.p99, math.NaN())
				continue
			}
			se.hasAnyPoint = true
			se.rps = append(se.rps, p.RPS)
			se.p99 = append(se.p99, float64(p.P99)/1e6)
		}
		if se.hasAnyPoint {
			all = append(all, se)
		}
	}
	rlo, rhi := decades(func(yield func(float64)) {
		for _, s := range all {
			for _, v := range s.rps {
				yield(v)
			}
		}
	})
	plo, phi := decades(func(yield func(float64)) {
		for _, s := range all {
			for _, v := range s.p99 {
				yield(v)
			}
		}
	})
	const width, legendRow = 980.0, 20.0
	rows := (len(all) + 2) / 3
	height := 420 + float64(rows)*legendRow
	left := panel{x: 70, y: 50, w: 380, h: 300, title: "throughput", unit: "req/s", lo: rlo, hi: rhi, xs: levels}
	right := panel{x: 570, y: 50, w: 380, h: 300, title: "p99 latency", unit: "ms", lo: plo, hi: phi, xs: levels}

	var b bytes.Buffer
	f := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	f(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	f(`<text x="%.0f" y="22" font-size="15" font-weight="bold">auth-manager load (%s, commit %s): req/s and p99 against concurrency</text>`+"\n",
		left.x, html.EscapeString(r.Date.Format("2006-01-02")), html.EscapeString(strings.Fields(r.Commit + " ?")[0]))
	for _, p := range []panel{left, right} {
		axes(&b, p)
	}
	for _, s := range all {
		line(&b, left, s.rps, s.colour, s.dashed)
		line(&b, right, s.p99, s.colour, s.dashed)
	}
	for i, s := range all {
		x := 70 + float64(i%3)*300
		y := 400 + float64(i/3)*legendRow
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		f(`<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2.5"%s/>`+"\n", x, y-4, x+28, y-4, s.colour, dash)
		f(`<text x="%.0f" y="%.0f">%s</text>`+"\n", x+36, y, html.EscapeString(s.key))
	}
	f("</svg>\n")
	return b.Bytes()
}

// decades returns the whole powers of ten around every finite positive value.
func decades(values func(yield func(float64))) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	values(func(v float64) {
		if v > 0 && !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	})
	if math.IsInf(lo, 1) {
		return 1, 10
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	return lo, hi
}

func axes(b *bytes.Buffer, p panel) {
	f := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	f(`<text x="%.0f" y="%.0f" font-weight="bold">%s (%s, log scale)</text>`+"\n", p.x, p.y-10, p.title, p.unit)
	f(`<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#444"/>`+"\n", p.x, p.y, p.w, p.h)
	for v := p.lo; v <= p.hi*1.0001; v *= 10 {
		y := p.py(v)
		f(`<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/>`+"\n", p.x, y, p.x+p.w, y)
		f(`<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", p.x-6, y+4, tick(v))
	}
	for _, c := range p.xs {
		x := p.px(c)
		f(`<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#ddd"/>`+"\n", x, p.y, x, p.y+p.h)
		f(`<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`+"\n", x, p.y+p.h+16, c)
	}
	f(`<text x="%.0f" y="%.0f" text-anchor="middle">concurrent connections</text>`+"\n", p.x+p.w/2, p.y+p.h+34)
}

func line(b *bytes.Buffer, p panel, vals []float64, colour string, dashed bool) {
	var pts []string
	for i, v := range vals {
		if math.IsNaN(v) || v <= 0 {
			continue
		}
		x, y := p.px(p.xs[i]), p.py(v)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x, y, colour)
	}
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="6 4"`
	}
	if len(pts) > 1 {
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), colour, dash)
	}
}

func tick(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}
