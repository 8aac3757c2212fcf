package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample", []time.Duration{7}, 99, 7},
		{"median of 100", hundred, 50, 50 * time.Millisecond},
		{"p90 of 100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"p99 of 10 is the max (nearest rank)", hundred[:10], 99, 10 * time.Millisecond},
		{"tiny p is the min", hundred, 0.001, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Percentile(tc.sorted, tc.p))
		})
	}
}

func TestSummarizeSorts(t *testing.T) {
	var r Result
	summarize(&r, []time.Duration{5, 1, 4, 2, 3})
	assert.Equal(t, time.Duration(3), r.P50)
	assert.Equal(t, time.Duration(5), r.P99)
	assert.Equal(t, time.Duration(5), r.Max)
}

func TestSpreadIndexDisjointWhenConcurrencyDividesUsers(t *testing.T) {
	for _, tc := range []struct{ c, users int }{{1, 128}, {16, 128}, {128, 128}, {4, 16}} {
		owner := map[int]int{}
		for w := range tc.c {
			seen := 0
			for n := range 3 * tc.users / tc.c {
				u, round := spreadIndex(w, n, tc.c, tc.users)
				if prev, ok := owner[u]; ok {
					assert.Equal(t, w, prev, "c=%d: user %d shared by workers %d and %d", tc.c, u, prev, w)
				}
				owner[u] = w
				assert.Equal(t, n*tc.c/tc.users, round, "c=%d w=%d n=%d", tc.c, w, n)
				seen++
			}
			assert.Positive(t, seen)
		}
		assert.Len(t, owner, tc.users, "c=%d: every user is visited", tc.c)
	}
}
