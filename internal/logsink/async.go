package logsink

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Options bound an Async writer. Zero values take the defaults.
type Options struct {
	// MaxQueued is the most bytes waiting to be written; a line that does not fit is
	// dropped and counted (default 1 MiB).
	MaxQueued int
	// FlushEvery is the longest a line waits (default 100 ms).
	FlushEvery time.Duration
	// FlushAt wakes the writer early once this many bytes wait (default 64 KiB), so
	// that a busy service writes in large batches without reaching MaxQueued.
	FlushAt int
	// Now stamps the line that reports drops (default time.Now).
	Now func() time.Time
}

// Async is an io.Writer for whole log lines (slog handlers write one record per
// Write). Write copies the line into a queue and returns at once; one goroutine
// writes the queue to the underlying writer at least every FlushEvery. Close writes
// what is left. Lines keep their order.
type Async struct {
	out    io.Writer
	opt    Options
	mu     sync.Mutex
	buf    []byte // lines waiting
	closed bool   // Close has run: Write writes through
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	dropped  atomic.Uint64 // since start
	reported uint64        // drops already reported in the stream (flusher only)
}

// NewAsync starts the writer's goroutine; Close stops it.
func NewAsync(out io.Writer, opt Options) *Async {
	if opt.MaxQueued <= 0 {
		opt.MaxQueued = 1 << 20
	}
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = 100 * time.Millisecond
	}
	if opt.FlushAt <= 0 || opt.FlushAt > opt.MaxQueued {
		opt.FlushAt = min(64<<10, opt.MaxQueued)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	a := &Async{out: out, opt: opt, buf: make([]byte, 0, opt.FlushAt*2),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go a.run(make([]byte, 0, cap(a.buf)))
	return a
}

// Write queues p, or drops it when the queue is full. It never blocks on the output
// and never fails: a logger must not slow down or break the request it describes.
func (a *Async) Write(p []byte) (int, error) {
	a.mu.Lock()
	if a.closed {
		defer a.mu.Unlock()
		return a.out.Write(p)
	}
	if len(a.buf)+len(p) > a.opt.MaxQueued {
		a.mu.Unlock()
		a.dropped.Add(1)
		return len(p), nil
	}
	a.buf = append(a.buf, p...)
	full := len(a.buf) >= a.opt.FlushAt
	a.mu.Unlock()
	if full {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Dropped is the number of lines dropped since start.
func (a *Async) Dropped() uint64 { return a.dropped.Load() }

// Close writes every queued line and stops the goroutine. Writes after Close are
// written synchronously.
func (a *Async) Close() error {
	a.once.Do(func() { close(a.stop) })
	<-a.done
	return nil
}

func (a *Async) run(spare []byte) {
	defer close(a.done)
	t := time.NewTicker(a.opt.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			a.flush(spare)
			a.mu.Lock() // what arrived during that flush, then write through
			defer a.mu.Unlock()
			a.closed = true
			if len(a.buf) > 0 {
				_, _ = a.out.Write(a.buf)
			}
			return
		case <-t.C:
		case <-a.wake:
		}
		spare = a.flush(spare)
	}
}

// flush swaps the queue with spare, writes it and returns the emptied buffer for the
// next swap. Only the writer's goroutine calls it.
func (a *Async) flush(spare []byte) []byte {
	a.mu.Lock()
	out := a.buf
	a.buf = spare[:0]
	a.mu.Unlock()
	if n := a.dropped.Load(); n > a.reported {
		out = fmt.Appendf(out, `{"time":%q,"level":"WARN","msg":"access log lines dropped","dropped":%d,"dropped_total":%d}`+"\n",
			a.opt.Now().Format(time.RFC3339Nano), n-a.reported, n)
		a.reported = n
	}
	if len(out) > 0 {
		_, _ = a.out.Write(out)
	}
	// Keep the buffer, grown or not: Write never queues more than MaxQueued, so two
	// buffers of about that size are the writer's whole footprint, and a service
	// that writes faster than one batch per wake-up does not reallocate every time.
	return out[:0]
}
