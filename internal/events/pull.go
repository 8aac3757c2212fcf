package events

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Event is a token-health event (store.Event): never a token.
type Event = store.Event

// Page limits of GET /v1/events.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ErrBadCursor: the after cursor is not one GET /v1/events answered.
var ErrBadCursor = problem.Validation("query.after", "not a cursor of this service (use the next value of an earlier answer)")

// Store is the outbox the feature reads.
type Store interface {
	EventsAfter(ctx context.Context, userID string, after int64, limit int) ([]store.Event, error)
	PruneEvents(ctx context.Context, before, regardless time.Time, limit int) (int64, error)
}

// Options configures the service.
type Options struct {
	// Retention is how long an event is kept (AUTH_MANAGER_EVENTS_RETENTION).
	Retention time.Duration
	// PruneEvery is how often old events are deleted (5 min).
	PruneEvery time.Duration
	Log        *slog.Logger
	Now        func() time.Time
}

// Service reads and prunes the outbox. Safe for concurrent use.
type Service struct {
	st  Store
	opt Options
}

// New returns the service.
func New(st Store, opt Options) *Service {
	if opt.PruneEvery <= 0 {
		opt.PruneEvery = 5 * time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{st: st, opt: opt}
}

// Page is one answer of GET /v1/events.
type Page struct {
	Events []Event
	// Next is the cursor to ask with next: after the last event, or the cursor asked
	// with when there was none.
	Next string
}

// List returns up to limit events after the cursor after ("" starts at the oldest
// kept), oldest first: a user caller's own rows' events, every row's for a service
// caller (a service caller may act for every user).
func (s *Service) List(ctx context.Context, c caller.Caller, after string, limit int) (Page, error) {
	cursor, err := parseCursor(after)
	if err != nil {
		return Page{}, err
	}
	limit = min(max(limit, 1), MaxLimit)
	userID := ""
	if !c.Service {
		if c.Subject == "" {
			return Page{}, problem.New(http.StatusForbidden, "forbidden", "Not allowed for this caller")
		}
		userID = c.Subject
	}
	evs, err := s.st.EventsAfter(ctx, userID, cursor, limit)
	if err != nil {
		return Page{}, err
	}
	next := cursor
	if len(evs) > 0 {
		next = evs[len(evs)-1].Seq
	}
	return Page{Events: evs, Next: strconv.FormatInt(next, 10)}, nil
}

func parseCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, ErrBadCursor
	}
	return n, nil
}

// pruneBatch bounds one prune statement.
const pruneBatch = 1000

// Prune deletes the events older than the retention, batch by batch, and returns how
// many it deleted. An event a webhook subscriber still waits for is kept up to twice
// the retention. Any replica may run it at any time.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	now := s.opt.Now()
	before, regardless := now.Add(-s.opt.Retention), now.Add(-2*s.opt.Retention)
	var total int64
	for {
		n, err := s.st.PruneEvents(ctx, before, regardless, pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// RunPrune prunes at once and then every PruneEvery until ctx ends.
func (s *Service) RunPrune(ctx context.Context) {
	for {
		n, err := s.Prune(ctx)
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			s.opt.Log.WarnContext(ctx, "events: pruning old events failed", "error", err.Error())
		case n > 0:
			s.opt.Log.InfoContext(ctx, "events: old events pruned", "deleted", n, "retention", s.opt.Retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.opt.PruneEvery):
		}
	}
}
