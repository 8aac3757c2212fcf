package logsink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a goroutine-safe output that counts its Write calls.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	gate   chan struct{} // when set, each Write waits for a receive... until closed
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func line(g, i int) string { return fmt.Sprintf(`{"msg":"http request","g":%d,"i":%d}`+"\n", g, i) }

func TestAsyncKeepsEveryLineInOrderAndBatches(t *testing.T) {
	out := &syncBuffer{}
	a := NewAsync(out, Options{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				n, err := a.Write([]byte(line(g, i)))
				assert.NoError(t, err)
				assert.Equal(t, len(line(g, i)), n)
			}
		})
	}
	wg.Wait()
	require.NoError(t, a.Close())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 8000)
	next := make([]int, 8)
	for _, l := range lines {
		var v struct{ G, I int }
		require.NoError(t, json.Unmarshal([]byte(l), &v), "a whole line: %q", l)
		assert.Equal(t, next[v.G], v.I, "lines of one writer keep their order")
		next[v.G] = v.I + 1
	}
	assert.Less(t, out.writes, 8000/10, "lines are written in batches")
	assert.Zero(t, a.Dropped())
}

func TestAsyncFlushesWithinTheInterval(t *testing.T) {
	out := &syncBuffer{}
	a := NewAsync(out, Options{FlushEvery: 20 * time.Millisecond})
	defer a.Close()
	_, _ = a.Write([]byte(line(0, 0)))
	assert.Eventually(t, func() bool { return out.String() == line(0, 0) }, 2*time.Second, 5*time.Millisecond,
		"a lone line is written without Close")
}

func TestAsyncDropsAndCountsInsteadOfBlocking(t *testing.T) {
	out := &syncBuffer{gate: make(chan struct{})}
	a := NewAsync(out, Options{MaxQueued: 4096, FlushAt: 1024, FlushEvery: time.Millisecond,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	l := line(1, 1)
	start := time.Now()
	for range 1000 { // the output is stuck: the writer holds one batch, the queue fills
		_, _ = a.Write([]byte(l))
	}
	assert.Less(t, time.Since(start), time.Second, "Write never waits for the output")
	dropped := a.Dropped()
	// At most one batch held by the stuck writer and one full queue are kept.
	assert.GreaterOrEqual(t, dropped, uint64(1000-2*4096/len(l)))
	close(out.gate)
	require.NoError(t, a.Close())
	got := out.String()
	assert.Equal(t, 1000-int(dropped), strings.Count(got, l), "every line not counted as dropped is written, whole")
	// Drops are reported in the stream as they are noticed; the reports add up.
	reports := regexp.MustCompile(`\{"time":"2026-01-02T03:04:05Z","level":"WARN","msg":"access log lines dropped","dropped":(\d+),"dropped_total":(\d+)\}\n`).
		FindAllStringSubmatch(got, -1)
	require.NotEmpty(t, reports)
	var sum uint64
	for _, r := range reports {
		n, _ := strconv.ParseUint(r[1], 10, 64)
		sum += n
	}
	assert.Equal(t, dropped, sum)
	assert.Equal(t, strconv.FormatUint(dropped, 10), reports[len(reports)-1][2])
}

func TestAsyncWritesThroughAfterClose(t *testing.T) {
	out := &syncBuffer{}
	a := NewAsync(out, Options{FlushEvery: time.Hour})
	_, _ = a.Write([]byte(line(0, 0)))
	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close twice is fine")
	_, _ = a.Write([]byte(line(0, 1)))
	assert.Equal(t, line(0, 0)+line(0, 1), out.String())
}

// BenchmarkWrite is the cost of an access line to the request: a copy under a mutex.
func BenchmarkWrite(b *testing.B) {
	a := NewAsync(&syncBuffer{}, Options{})
	defer a.Close()
	l := []byte(strings.Repeat("x", 250) + "\n")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = a.Write(l)
		}
	})
}
