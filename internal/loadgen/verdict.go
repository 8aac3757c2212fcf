package loadgen

import (
	"fmt"
	"strings"
)

// The targets the report judges.
const (
	hitRatioTarget      = 0.8
	hitP99Target        = 5e-3 // seconds, at c ≤ hitP99MaxConc
	hitP99MaxConc       = 16
	validateTarget      = 0.7
	noCacheLatencyLimit = 1.1 // × (baseline B + baseline C), judged on p50
	noCacheMaxConc      = 16  // judged at c ≤ 16; higher levels are shown
	rssRatioLimit       = 1.5 // × baseline A's peak RSS at the same concurrency
	cpuRatioLimit       = 2.0 // × baseline A's CPU per request
)

// Verdict is one target checked against a run.
type Verdict struct {
	Target  string
	Details []string // one line per concurrency level or scenario
	Met     bool
	Missing bool // a scenario the target needs was not measured
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
