package harness

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of sorted, or 0
// for no samples. Nearest rank never invents a value between two samples, which keeps
// a p99 of few samples honest (it is one of them).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(n) * p / 100))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// summarize sorts samples in place and fills r's latency fields.
func summarize(r *Result, samples []time.Duration) {
	slices.Sort(samples)
	r.P50 = Percentile(samples, 50)
	r.P90 = Percentile(samples, 90)
	r.P99 = Percentile(samples, 99)
	if len(samples) > 0 {
		r.Max = samples[len(samples)-1]
	}
}
