package client

import (
	"errors"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how often and how patiently a call is sent again. Only what is safe
// to repeat is retried: idempotent calls (every GET and DELETE, AccessToken and
// StoreRefreshToken) that got a 503 or no answer at all. A 4xx, a 502 (Keycloak refused:
// asking again gets the same refusal) and anything the caller's context ended are
// returned at once.
type RetryPolicy struct {
	// Attempts is the most attempts per call, the first included (0 or 1: no retries).
	Attempts int
	// BaseDelay is the wait before the first retry; each further retry doubles it, up to
	// MaxDelay, and a random part (jitter) of up to half of it is taken off so that many
	// callers do not retry in step.
	BaseDelay time.Duration
	// MaxDelay caps the wait. A Retry-After longer than MaxDelay ends the retries: the
	// service asked for more patience than the caller allows.
	MaxDelay time.Duration
}

// DefaultRetryPolicy: four attempts within about 1.5 s of waiting.
var DefaultRetryPolicy = RetryPolicy{Attempts: 4, BaseDelay: 200 * time.Millisecond, MaxDelay: 2 * time.Second}

// next decides after a failed attempt (1-based) whether to try again, and when.
func (p RetryPolicy) next(attempt int, idempotent bool, err error) (time.Duration, bool) {
	var e *Error
	if err == nil || !idempotent || attempt >= p.Attempts || !errors.As(err, &e) || !errors.Is(e, ErrUnavailable) {
		return 0, false
	}
	d := p.BaseDelay << (attempt - 1)
	if d > p.MaxDelay || d <= 0 {
		d = p.MaxDelay
	}
	d -= rand.N(d/2 + 1)
	if e.RetryAfter > 0 {
		if e.RetryAfter > p.MaxDelay {
			return 0, false
		}
		d = max(d, e.RetryAfter)
	}
	return d, true
}
