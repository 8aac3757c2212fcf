package testenv

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/config"
)

// WebhookSecret is a Standard Webhooks secret for tests (24 bytes), in its whsec_ form;
// WebhookKey is its key.
const WebhookSecret = "whsec_dGVzdC13ZWJob29rLXNlY3JldC0xMjM0NTY3OA=="

// WebhookKey is WebhookSecret decoded.
func WebhookKey() []byte {
	k, _ := base64.StdEncoding.DecodeString(WebhookSecret[len("whsec_"):])
	return k
}

// Delivery is one webhook request a Receiver accepted.
type Delivery struct {
	ID, Timestamp, Signature string
	Header                   http.Header
	Body                     []byte
	Event                    map[string]any
	At                       time.Time
}

// Receiver is a webhook subscriber for tests: a real HTTP server on a loopback port of
// its own that records every delivery, can answer with another status, be slow, or go
// down and come back on the same address.
type Receiver struct {
	t    testing.TB
	Addr string // host:port
	URL  string // http://Addr/hooks

	mu sync.Mutex
	// Status, when set, decides the answer to a delivery (2xx accepts it).
	Status   func(d Delivery) int
	Delay    time.Duration // before answering
	got      []Delivery
	seen     map[string]int // webhook-id → deliveries accepted
	inFlight map[string]int // webhook-id → requests being handled
	overlaps int            // requests of an id that arrived while another of it was in flight
	probes   int            // doctor's test messages (type webhook.test), kept out of got
	srv      *http.Server
}

// StartReceiver starts a receiver; it stops when the test ends.
func StartReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{t: t, seen: map[string]int{}, inFlight: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(t, err, "receiver listen")
	r.Addr = ln.Addr().String()
	r.URL = "http://" + r.Addr + "/hooks"
	r.serve(ln)
	t.Cleanup(r.Down)
	return r
}

func (r *Receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 5 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Down stops accepting connections (connections are refused) until Up.
func (r *Receiver) Down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same address.
func (r *Receiver) Up() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment after Close
		if ln, err = net.Listen("tcp", r.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	Must(r.t, err, "receiver listen again")
	r.serve(ln)
}

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	d := Delivery{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"),
		Signature: req.Header.Get("webhook-signature"), Header: req.Header.Clone(), Body: body, At: time.Now()}
	_ = json.Unmarshal(body, &d.Event)
	r.mu.Lock()
	if d.Event["type"] == "webhook.test" {
		r.probes++
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.inFlight[d.ID] > 0 {
		r.overlaps++
	}
	r.inFlight[d.ID]++
	status, delay := http.StatusNoContent, r.Delay
	if r.Status != nil {
		status = r.Status(d)
	}
	r.mu.Unlock()
	time.Sleep(delay)
	r.mu.Lock()
	r.inFlight[d.ID]--
	if status/100 == 2 {
		r.got = append(r.got, d)
		r.seen[d.ID]++
	}
	r.mu.Unlock()
	w.WriteHeader(status)
}

// Probes is how many of doctor's test messages (type webhook.test) arrived; they are
// not among the deliveries.
func (r *Receiver) Probes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.probes
}

// Deliveries returns the accepted deliveries so far, in arrival order.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// Counts returns how many distinct webhook-ids were accepted, how many accepted
// deliveries repeated an id already accepted, and how many requests arrived while
// another request of the same id was in flight.
func (r *Receiver) Counts() (distinct, duplicates, overlaps int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		distinct++
		duplicates += n - 1
	}
	return distinct, duplicates, r.overlaps
}

// WaitFor waits until pred holds for the accepted deliveries, or fails the test after
// limit.
func (r *Receiver) WaitFor(limit time.Duration, what string, pred func([]Delivery) bool) []Delivery {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := r.Deliveries()
		if pred(got) {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("testenv: receiver: %s: not within %s (%d deliveries)", what, limit, len(got))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ErrNoDelivery is reported by First when nothing of that type arrived.
var ErrNoDelivery = errors.New("testenv: no such delivery")

// First returns the first accepted delivery of event type typ.
func (r *Receiver) First(typ string) (Delivery, error) {
	for _, d := range r.Deliveries() {
		if d.Event["type"] == typ {
			return d, nil
		}
	}
	return Delivery{}, ErrNoDelivery
}

// StartProcessWithEnv is StartProcess with extra environment variables (NAME=value)
// after those cfg gives.
func StartProcessWithEnv(t testing.TB, cfg config.Config, extra ...string) *Process {
	t.Helper()
	port := FreePort(t)
	p := &Process{t: t, bin: Binary(t), env: append(ProcessEnv(cfg, port), extra...),
		URL: "http://127.0.0.1:" + strconv.Itoa(port), Logs: &LogBuffer{}}
	p.Start()
	t.Cleanup(func() { p.Kill() })
	return p
}
