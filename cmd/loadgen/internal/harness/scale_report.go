package harness

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// WriteScale writes a scale run as a Markdown fragment, for a section of
// docs/BENCHMARKS.md's hand-written notes.
func WriteScale(w io.Writer, r *ScaleRun) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	c := r.Config
	bin := "built from the repository at `" + r.Commit + "`"
	if r.Binary != "" {
		bin = "`" + r.Binary + "`"
	}
	p("Run %s (%s), %d CPUs, load average %s at start and %s at end, %s; service %s; service environment over `deploy/dev.env`: %s.\n\n",
		r.Date.Format("2006-01-02 15:04 UTC"), r.Elapsed.Round(1e9), r.Machine.CPUs, r.Machine.LoadStart, r.Machine.LoadEnd,
		r.Machine.GoVersion, bin, envText(c.ServiceEnv))
	if len(r.Grants) > 0 {
		p("| replicas | rows | calls per row | refresh grants per row (fewest–most) | grants in all | access tokens per row | failed calls |\n")
		p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, g := range r.Grants {
			p("| %d | %d | %d | %d–%d | %d | %d | %d |\n", g.Replicas, g.Rows, g.Calls, g.Min, g.Max, g.Total, g.Tokens, g.Failed)
		}
		p("\n")
	}
	if c.Misses > 0 {
		s := r.Slow
		p("Keycloak's refresh grants held %s; %d concurrent misses of distinct rows on one replica, drained in %s; "+
			"%d refresh grants, at most %d at Keycloak at once.\n\n", s.Delay, c.Misses, ms(s.Drained), s.Grants, s.MaxInFlight)
		p("| requests during the misses | answered | p50 | p99 | max | failed |\n| --- | ---: | ---: | ---: | ---: | --- |\n")
		row := func(name string, l Latencies) {
			p("| %s | %d | %s | %s | %s | %s |\n", name, l.N, ms(l.P50), ms(l.P99), ms(l.Max), failures(l))
		}
		row("cache hit (`POST /v1/access-token`, warm row)", s.Hits)
		row("`GET /v1/tokens` (jwt mode: database only)", s.Listings)
		row("the misses themselves", s.Misses)
		p("\nThe last miss answered after %s", ms(s.Misses.Answered))
		if s.Misses.Failed > 0 {
			p("; the first failure came after %s", ms(s.Misses.FirstFail))
		}
		p(".\n")
	}
}

func failures(l Latencies) string {
	if l.Failed == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l.FailedKinds)) {
		parts = append(parts, fmt.Sprintf("%d × %s", l.FailedKinds[k], k))
	}
	return strings.Join(parts, ", ")
}

func envText(env map[string]string) string {
	if len(env) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		parts = append(parts, "`"+k+"="+env[k]+"`")
	}
	return strings.Join(parts, ", ")
}
