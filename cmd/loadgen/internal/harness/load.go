package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one kind of request to drive.
type Target struct {
	// New builds worker w's n-th request. Workers never share a request.
	New func(ctx context.Context, w, n int) (*http.Request, error)
	// Want is the status that counts as success.
	Want int
	// Call, when set, replaces the HTTP request: worker w's n-th operation, nil on
	// success (baseline C's transactions).
	Call func(ctx context.Context, w, n int) error
}

// LoadOptions bound one measurement.
type LoadOptions struct {
	Concurrency int           // closed-loop workers, each with its own connection
	Warmup      time.Duration // driven but not recorded
	Duration    time.Duration // recorded window
	MaxRequests int64         // stop the window early after this many requests
	Timeout     time.Duration // per request
	// OnWindow is called when the recorded window opens (start) and closes (stop), so
	// that the caller can read the process counters over exactly that window.
	OnWindow func(open bool)
}

// Result is one measurement at one concurrency level.
type Result struct {
	Concurrency int
	Requests    int64            // requests started inside the window
	Errors      int64            // of which failed (transport error or unexpected status)
	ErrorKinds  map[string]int64 // e.g. "status 502", "timeout"
	Elapsed     time.Duration    // window open → last recorded answer
	RPS         float64
	P50         time.Duration
	P90         time.Duration
	P99         time.Duration
	Max         time.Duration
}

// NewClient returns a client that holds at most one keep-alive connection per worker,
// so that c workers means c concurrent connections to the server, never more (without
// MaxConnsPerHost the transport dials a spare whenever a worker asks again before its
// previous connection is back in the pool, and the pool grows towards 2c).
func NewClient(concurrency int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxConnsPerHost:     concurrency,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Drive runs o.Concurrency workers against t in a closed loop: warm-up, then the
// recorded window, bounded by o.Duration and o.MaxRequests (and ctx). Latency is from
// sending the request to having read the whole answer.
//
// The loop is written here rather than taken from vegeta (the well-kept Go load
// library), whose attacker is paced by a rate: at rate 0 with a worker cap it comes
// close to a closed loop, but its workers share one targeter and have no identity
// (the spread targets need worker w's n-th request, so that concurrent requests never
// share a row), it adds an X-Vegeta-Seq header to every request, keeps every answer's
// body and hands every result over one unbuffered channel (driver work that competes
// with the measured process for the same CPUs in the shared placement), its metrics
// are t-digest estimates rather than nearest-rank percentiles of every sample, and it
// cannot drive baseline BC, a transaction around an HTTP call. No scenario here runs
// at a fixed rate, which is what it is built for.
func Drive(ctx context.Context, client *http.Client, t Target, o LoadOptions) (Result, error) {
	if o.Concurrency < 1 || o.Duration <= 0 || o.MaxRequests < 1 {
		return Result{}, errors.New("loadgen: concurrency, duration and max requests must be positive")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		recording atomic.Bool
		stop      atomic.Bool
		started   atomic.Int64 // requests started in the window
		lastDone  atomic.Int64 // unix nanos of the last recorded completion
		wg        sync.WaitGroup
	)
	workers := make([]worker, o.Concurrency)
	for w := range workers {
		wg.Go(func() {
			wk := &workers[w]
			wk.kinds = map[string]int64{}
			for n := 0; !stop.Load() && ctx.Err() == nil; n++ {
				rec := recording.Load()
				if rec && started.Add(1) > o.MaxRequests {
					stop.Store(true)
					return
				}
				t0 := time.Now()
				kind := do(ctx, client, t, w, n)
				took := time.Since(t0)
				if !rec {
					continue
				}
				lastDone.Store(time.Now().UnixNano())
				wk.samples = append(wk.samples, took)
				if kind != "" {
					wk.errors++
					wk.kinds[kind]++
				}
			}
		})
	}
	sleep(ctx, o.Warmup)
	if o.OnWindow != nil {
		o.OnWindow(true)
	}
	open := time.Now()
	recording.Store(true)
	deadline := time.NewTimer(o.Duration)
	tick := time.NewTicker(20 * time.Millisecond)
	for waiting := true; waiting; {
		select {
		case <-ctx.Done():
			waiting = false
		case <-deadline.C:
			waiting = false
		case <-tick.C:
			waiting = !stop.Load()
		}
	}
	deadline.Stop()
	tick.Stop()
	stop.Store(true)
	wg.Wait() // in-flight requests finish (bounded by the client timeout)
	if o.OnWindow != nil {
		o.OnWindow(false)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	r := Result{Concurrency: o.Concurrency, ErrorKinds: map[string]int64{}}
	var all []time.Duration
	for _, wk := range workers {
		all = append(all, wk.samples...)
		r.Errors += wk.errors
		for k, v := range wk.kinds {
			r.ErrorKinds[k] += v
		}
	}
	r.Requests = int64(len(all))
	end := time.Now()
	if n := lastDone.Load(); n != 0 {
		end = time.Unix(0, n)
	}
	r.Elapsed = max(end.Sub(open), time.Millisecond)
	r.RPS = float64(r.Requests) / r.Elapsed.Seconds()
	summarize(&r, all)
	return r, nil
}

type worker struct {
	samples []time.Duration
	errors  int64
	kinds   map[string]int64
}

// do sends one request and reads the whole answer; it returns "" on success or the
// kind of failure.
func do(ctx context.Context, client *http.Client, t Target, w, n int) string {
	if t.Call != nil {
		switch err := t.Call(ctx, w, n); {
		case err == nil:
			return ""
		case ctx.Err() != nil:
			return "cancelled"
		default:
			return "call failed"
		}
	}
	req, err := t.New(ctx, w, n)
	if err != nil {
		return "build request"
	}
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return "cancelled"
		case errors.As(err, &ne) && ne.Timeout():
			return "timeout"
		}
		return "transport error"
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode != t.Want:
		return fmt.Sprintf("status %d", resp.StatusCode)
	case err != nil:
		return "read error"
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
