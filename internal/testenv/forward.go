package testenv

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Forwarder is a local TCP forwarder: a second address for a server, standing in for
// the internal address a service reaches Keycloak at inside a cluster (KEYCLOAK_URL),
// or for the network between a replica and its database. It counts the connections it
// carried, and Cut drops them. It stops when the test ends.
type Forwarder struct {
	Addr  string // 127.0.0.1:port
	Conns atomic.Int64

	mu   sync.Mutex
	cut  bool
	live map[net.Conn]struct{}
}

// Cut closes every connection it carries and refuses new ones until Restore: the
// network between its clients and the server is gone.
func (f *Forwarder) Cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = true
	for c := range f.live {
		c.Close()
	}
}

// Restore accepts connections again after Cut.
func (f *Forwarder) Restore() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = false
}

// track registers a carried connection; false (and c closed) while cut.
func (f *Forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		c.Close()
		return false
	}
	f.live[c] = struct{}{}
	return true
}

func (f *Forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.live, c)
}

// Forward listens on a free local port and copies every connection to target.
func Forward(t testing.TB, target string) *Forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(t, err, "forwarder listen")
	f := &Forwarder{Addr: ln.Addr().String(), live: map[net.Conn]struct{}{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			if !f.track(in) {
				continue
			}
			f.Conns.Add(1)
			wg.Go(func() { defer f.untrack(in); pipe(ctx, in, target) })
		}
	})
	return f
}

func pipe(ctx context.Context, in net.Conn, target string) {
	defer in.Close()
	out, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", target)
	if err != nil {
		return
	}
	defer out.Close()
	stop := context.AfterFunc(ctx, func() { in.Close(); out.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	<-done
}
