package keyset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// Sentinel errors of Verify. ErrUnavailable is returned wrapped, with a message that
// contains "fetching keys" (the phrase go-oidc's verifier errors are recognised by).
var (
	// ErrMalformed: not a compact JWS with one signature in a pinned algorithm.
	ErrMalformed = errors.New("keyset: malformed token")
	// ErrUnknownKey: the token names a key id the realm's key set does not have.
	ErrUnknownKey = errors.New("keyset: unknown signing key")
	// ErrBadSignature: the signature does not verify under the named key.
	ErrBadSignature = errors.New("keyset: invalid signature")
	// ErrUnavailable: the key set could not be fetched, so the token cannot be judged.
	ErrUnavailable = errors.New("keyset: fetching keys failed")
)

// MaxTokenLen bounds what is parsed at all.
const MaxTokenLen = 16 << 10

// Fetcher downloads the realm's JWKS (the Keycloak client, which counts the calls).
type Fetcher func(ctx context.Context) (jose.JSONWebKeySet, error)

// Options configures a Set.
type Options struct {
	// Algs are the accepted signature algorithms (AUTH_MANAGER_SIGNING_ALGS). Only
	// asymmetric ones make sense: a public key must never double as an HMAC secret.
	Algs []string
	// MinRefresh is the least time between two fetches (AUTH_MANAGER_JWKS_MIN_REFRESH).
	MinRefresh time.Duration
	Now        func() time.Time
}

// Set is the realm's key set. Safe for concurrent use.
type Set struct {
	fetch      Fetcher
	algs       []jose.SignatureAlgorithm
	minRefresh time.Duration
	now        func() time.Time

	mu        sync.RWMutex
	keys      []jose.JSONWebKey
	fetched   bool      // a fetch succeeded once
	lastFetch time.Time // start of the last successful fetch
	lastFail  time.Time // start of the last failed fetch

	flight singleflight.Group
}

// New returns a Set that fetches with fetch. It makes no network call.
func New(fetch Fetcher, opt Options) *Set {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	algs := make([]jose.SignatureAlgorithm, 0, len(opt.Algs))
	for _, a := range opt.Algs {
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	return &Set{fetch: fetch, algs: algs, minRefresh: opt.MinRefresh, now: opt.Now}
}

// Prefetch fetches the key set at start, so that the first tokens need not wait for
// it. Its failure is not held against later fetches: at start Keycloak (or the realm)
// may simply not be there yet, and the first token after it is must not be refused
// for a second.
func (s *Set) Prefetch(ctx context.Context) error {
	// The same flight as on-demand fetches: a token arriving meanwhile waits for this
	// fetch instead of starting a second one.
	r := <-s.flight.DoChan(flightKey, func() (any, error) { return nil, s.fetchNow(ctx, false) })
	return r.Err
}

// VerifySignature checks raw's signature and returns its payload, unverified beyond
// the signature (claims are the caller's business). It satisfies go-oidc's KeySet, so
// that go-oidc's verifier can use the one Set.
func (s *Set) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	if len(raw) > MaxTokenLen {
		return nil, ErrMalformed
	}
	jws, err := jose.ParseSigned(raw, s.algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrMalformed
	}
	h := jws.Signatures[0].Protected
	keys, known := s.lookup(h.KeyID, h.Algorithm)
	if !known {
		// Only a key id we do not hold may mean the realm rotated its keys.
		if err := s.refreshIfDue(ctx); err != nil {
			return nil, err
		}
		if keys, known = s.lookup(h.KeyID, h.Algorithm); !known {
			return nil, ErrUnknownKey
		}
	}
	for _, k := range keys {
		if payload, err := jws.Verify(k); err == nil {
			return payload, nil
		}
	}
	return nil, ErrBadSignature
}

// lookup returns the signing keys usable for kid and alg. known reports whether the set
// has the key id at all (or any key, for a token without kid): a known key id with an
// unusable key is a bad signature, not a reason to fetch.
func (s *Set) lookup(kid, alg string) (usable []jose.JSONWebKey, known bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range s.keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		known = true
		if k.Use == "enc" || (k.Algorithm != "" && k.Algorithm != alg) || !k.IsPublic() {
			continue
		}
		usable = append(usable, k)
	}
	return usable, known
}

// failureBackoff is the least time between two fetches after a failed one: while
// Keycloak is down, forged tokens must not turn into a fetch each, and once it is back
// (or the realm exists) genuine tokens must not wait a whole MinRefresh.
const failureBackoff = time.Second

// refreshIfDue fetches the key set when none was fetched for MinRefresh. Concurrent
// callers share one fetch.
func (s *Set) refreshIfDue(ctx context.Context) error {
	if !s.due() {
		return s.unavailable()
	}
	ch := s.flight.DoChan(flightKey, func() (any, error) {
		if !s.due() { // another flight just finished
			return nil, s.unavailable()
		}
		return nil, s.fetchNow(ctx, true)
	})
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrUnavailable, context.Cause(ctx))
	case r := <-ch:
		return r.Err
	}
}

// flightKey is the one key of the Set's singleflight: there is one key set to fetch.
const flightKey = "jwks"

// fetchNow downloads the key set and keeps it; a failure is held against the next
// on-demand fetch (failureBackoff) when recordFailure.
func (s *Set) fetchNow(ctx context.Context, recordFailure bool) error {
	start := s.now()
	// Detached: other requests wait for this fetch; the fetcher has its timeout.
	ks, err := s.fetch(context.WithoutCancel(ctx))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if recordFailure {
			s.lastFail = start
		}
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.keys, s.fetched, s.lastFetch = ks.Keys, true, start
	return nil
}

func (s *Set) due() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	if s.fetched && now.Sub(s.lastFetch) < s.minRefresh {
		return false
	}
	return s.lastFail.IsZero() || now.Sub(s.lastFail) >= min(failureBackoff, s.minRefresh)
}

// unavailable is nil when the set holds keys, else the reason none can be used.
func (s *Set) unavailable() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fetched {
		return nil
	}
	return fmt.Errorf("%w: the last attempt failed; next one in at most %s", ErrUnavailable, failureBackoff)
}
