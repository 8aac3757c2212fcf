package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/store"
)

// DeliveryStore is the outbox's delivery side (store.Store).
type DeliveryStore interface {
	FanOut(ctx context.Context, subscriber string, types []string, limit int) (int, error)
	ClaimDeliveries(ctx context.Context, subscribers []string, limit int, lease time.Duration) ([]store.Delivery, error)
	FinishDeliveries(ctx context.Context, outs []store.Outcome) ([]bool, error)
	DeliveryBacklog(ctx context.Context) ([]store.SubscriberBacklog, error)
	Listen(ctx context.Context, channels []string, onNotify func(), onState func(bool))
}

// Observer is told about deliveries (metrics).
type Observer interface {
	// Delivered records one attempt: outcome is delivered, failed, dead or lease_lost.
	Delivered(subscriber, outcome string, took time.Duration)
	// Backlog records a subscriber's pending deliveries and the age of the oldest.
	Backlog(subscriber string, pending int, oldest time.Duration)
}

// DeliverOptions configures a Deliverer.
type DeliverOptions struct {
	Webhooks config.Webhooks
	// Poll is how often due deliveries are looked for without a wake-up (1 s): retries
	// come due by time, not by NOTIFY.
	Poll time.Duration
	// NoListen leaves the NOTIFY wake-ups out (behind a pooler in transaction mode):
	// new events are then found by Poll.
	NoListen bool
	Log      *slog.Logger
	Audit    *audit.Logger
	Observer Observer
	// Jitter returns a number in [0, 1) (math/rand/v2 by default).
	Jitter func() float64
}

// fanOutBatch bounds the events one fan-out transaction reads.
const fanOutBatch = 500

// maxAnswer is as much of a subscriber's answer as is read (and dropped).
const maxAnswer = 64 << 10

// Deliverer sends the outbox's events to the webhook subscribers. Any number of
// replicas run one: deliveries are claimed with leases, so none is sent by two at once.
type Deliverer struct {
	st   DeliveryStore
	opt  DeliverOptions
	subs []*subscriber
}

type subscriber struct {
	config.Subscriber
	client *http.Client
	wake   chan struct{}
}

// NewDeliverer returns the deliverer of opt.Webhooks' subscribers.
func NewDeliverer(st DeliveryStore, opt DeliverOptions) *Deliverer {
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Jitter == nil {
		opt.Jitter = rand.Float64
	}
	d := &Deliverer{st: st, opt: opt}
	for _, s := range opt.Webhooks.Subscribers {
		d.subs = append(d.subs, &subscriber{Subscriber: s, wake: make(chan struct{}, 1),
			client: newClient(opt.Webhooks.Timeout, s.AllowPrivate, opt.Webhooks.Concurrency)})
	}
	return d
}

// lease is how long a claimed delivery stays the claimer's: longer than its request can
// take, so that only a dead claimer's deliveries are claimed again.
func (d *Deliverer) lease() time.Duration { return 2*d.opt.Webhooks.Timeout + 5*time.Second }

// Run delivers until ctx ends: one loop per subscriber, woken by every replica's
// appends (NOTIFY) and by Poll. Requests in flight finish (within the timeout) before
// it returns.
func (d *Deliverer) Run(ctx context.Context) {
	if len(d.subs) == 0 {
		return
	}
	var wg sync.WaitGroup
	if !d.opt.NoListen {
		wg.Go(func() {
			d.st.Listen(ctx, []string{store.EventsChannel}, d.wakeAll, func(up bool) {
				if up {
					d.wakeAll() // anything appended while the channel was down
				}
			})
		})
	}
	wg.Go(func() { d.watchBacklog(ctx) })
	for _, s := range d.subs {
		wg.Go(func() { d.serve(ctx, s) })
	}
	wg.Wait()
}

func (d *Deliverer) wakeAll() {
	for _, s := range d.subs {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// serve runs s's rounds until ctx ends. New events are looked for when a wake-up or
// the poll says there may be some, not on every round of a backlog.
func (d *Deliverer) serve(ctx context.Context, s *subscriber) {
	failing, fresh := false, true
	for ctx.Err() == nil {
		select {
		case <-s.wake:
			fresh = true
		default:
		}
		n, err := d.round(ctx, s, fresh)
		fresh = err != nil
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				d.opt.Log.WarnContext(ctx, "webhooks: a delivery round failed; retrying", "subscriber", s.Name, "error", err.Error())
			}
			failing = true
		case err == nil:
			failing = false
		}
		if n > 0 && err == nil {
			continue // more may be due at once
		}
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-time.After(d.opt.Poll):
		}
		fresh = true
	}
}

// Round fans out subscriber's new events, claims as many due deliveries as it may have
// in flight, sends them at once and records the outcomes. It returns how many it
// claimed.
func (d *Deliverer) Round(ctx context.Context, name string) (int, error) {
	s := d.subscriber(name)
	if s == nil {
		return 0, fmt.Errorf("events: no subscriber %q", name)
	}
	return d.round(ctx, s, true)
}

func (d *Deliverer) round(ctx context.Context, s *subscriber, fanOut bool) (int, error) {
	for fanOut {
		n, err := d.st.FanOut(ctx, s.Name, s.Types, fanOutBatch)
		if err != nil {
			return 0, err
		}
		fanOut = n == fanOutBatch
	}
	claimed, err := d.st.ClaimDeliveries(ctx, []string{s.Name}, d.opt.Webhooks.Concurrency, d.lease())
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	outs := make([]store.Outcome, len(claimed))
	took := make([]time.Duration, len(claimed))
	var wg sync.WaitGroup
	for i, dl := range claimed {
		wg.Go(func() {
			start := time.Now()
			outs[i] = d.attempt(ctx, s, dl)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	// Recorded even when ctx ended meanwhile: the subscriber has answered.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	held, err := d.st.FinishDeliveries(fctx, outs)
	if err != nil {
		return len(claimed), err
	}
	for i, o := range outs {
		d.report(ctx, o, held[i], took[i])
	}
	return len(claimed), nil
}

func (d *Deliverer) subscriber(name string) *subscriber {
	for _, s := range d.subs {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// attempt sends one delivery and says how it ended.
func (d *Deliverer) attempt(ctx context.Context, s *subscriber, dl store.Delivery) store.Outcome {
	out := store.Outcome{Delivery: dl}
	status, err := d.send(ctx, s, dl.Event)
	out.Status = status
	switch {
	case err == nil && status >= 200 && status < 300:
		out.State = store.DeliveryDelivered
		return out
	case err != nil:
		out.Error = describeSendError(err)
	default:
		out.Error = "answered " + strconv.Itoa(status)
	}
	if dl.Attempt >= d.opt.Webhooks.MaxAttempts {
		out.State = store.DeliveryDead
		return out
	}
	out.State, out.RetryIn = store.DeliveryPending, d.backoff(dl.Attempt)
	return out
}

// send POSTs e to s, signed. The request outlives a stop of the deliverer (bounded by
// the timeout): an answer that arrives is recorded.
func (d *Deliverer) send(ctx context.Context, s *subscriber, e Event) (int, error) {
	body, err := json.Marshal(PayloadOf(e))
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opt.Webhooks.Timeout)
	defer cancel()
	return post(rctx, s, e.ID, body)
}

// post sends one signed message to s and returns its status.
func post(ctx context.Context, s *subscriber, id string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "auth-manager-webhooks")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(s.Secrets, id, ts, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// ProbeType is the type of the message Probe sends: no user's event. A receiver that
// ignores unknown types with a 2xx answers it as it should.
const ProbeType = "webhook.test"

// Probe sends s a signed test message (ProbeType, a fresh webhook-id, no user) through
// the same client deliveries use (timeout, no redirects, the address check), and
// returns the status s answered. doctor calls it.
func Probe(ctx context.Context, s config.Subscriber, timeout time.Duration) (int, error) {
	sub := &subscriber{Subscriber: s, client: newClient(timeout, s.AllowPrivate, 1)}
	id := "test_" + uuid.NewString()
	body, err := json.Marshal(map[string]any{"id": id, "type": ProbeType, "occurred_at": time.Now().UTC(), "details": map[string]any{}})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	status, err := post(ctx, sub, id, body)
	if err != nil {
		return 0, errors.New(describeSendError(err))
	}
	return status, nil
}

// describeSendError names a failed request for the delivery record and the log.
func describeSendError(err error) string {
	switch {
	case errors.Is(err, ErrForbiddenTarget):
		return "refused: the subscriber's address is not public (allow_private_network is off)"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	// http.Client's errors name the method and the whole URL, whose path or query may
	// hold the receiver's credential: keep only the cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// backoff is the wait after a delivery's attempt-th failure: Backoff doubled per
// earlier failure, at most BackoffMax, drawn between half and all of it.
func (d *Deliverer) backoff(attempt int) time.Duration {
	w := d.opt.Webhooks.Backoff
	for i := 1; i < attempt && w < d.opt.Webhooks.BackoffMax; i++ {
		w *= 2
	}
	w = min(w, d.opt.Webhooks.BackoffMax)
	return w/2 + time.Duration(d.opt.Jitter()*float64(w/2))
}

// report writes a delivery's audit line and metrics.
func (d *Deliverer) report(ctx context.Context, o store.Outcome, held bool, took time.Duration) {
	outcome := o.State
	switch {
	case !held:
		outcome = "lease_lost"
	case o.State == store.DeliveryPending:
		outcome = "failed"
	}
	if d.opt.Observer != nil {
		d.opt.Observer.Delivered(o.Delivery.Subscriber, outcome, took)
	}
	e := o.Delivery.Event
	ev := audit.Event{Name: audit.WebhookDelivery, Subject: e.UserID, RowID: e.RowID, SessionID: e.SessionID,
		Detail: fmt.Sprintf("subscriber=%s event=%s type=%s attempt=%d status=%d outcome=%s took_ms=%d",
			o.Delivery.Subscriber, e.ID, e.Type, o.Delivery.Attempt, o.Status, outcome, took.Milliseconds())}
	if outcome != store.DeliveryDelivered {
		ev.Outcome, ev.ErrorCode = audit.Failed, "webhook_"+outcome
	}
	d.opt.Audit.Record(ctx, ev)
	if outcome == store.DeliveryDead {
		d.opt.Log.WarnContext(ctx, "webhooks: a delivery is dead (attempts exhausted)", "subscriber", o.Delivery.Subscriber,
			"event_id", e.ID, "type", e.Type, "attempts", o.Delivery.Attempt, "last_error", o.Error)
	}
}

// backlogEvery is how often the pending deliveries are counted for the metrics.
const backlogEvery = 15 * time.Second

func (d *Deliverer) watchBacklog(ctx context.Context) {
	if d.opt.Observer == nil {
		return
	}
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		list, err := d.st.DeliveryBacklog(qctx)
		cancel()
		if err == nil {
			found := map[string]store.SubscriberBacklog{}
			for _, b := range list {
				found[b.Subscriber] = b
			}
			for _, s := range d.subs {
				b := found[s.Name]
				d.opt.Observer.Backlog(s.Name, b.Pending, b.Oldest)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backlogEvery):
		}
	}
}
