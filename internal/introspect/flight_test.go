package introspect

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
)

// slowKeycloak answers introspection only when released, and counts the calls.
type slowKeycloak struct {
	calls   atomic.Int64
	release chan struct{}
	claims  keycloak.Claims
}

func (s *slowKeycloak) Introspect(ctx context.Context, _, _ string) (keycloak.Claims, error) {
	s.calls.Add(1)
	select {
	case <-s.release:
		return s.claims, nil
	case <-ctx.Done():
		return keycloak.Claims{}, ctx.Err()
	}
}

// TestConcurrentMissesShareOneIntrospection: requests with the same uncached token ask
// Keycloak once, and a caller that gives up does not fail the others.
func TestConcurrentMissesShareOneIntrospection(t *testing.T) {
	now := time.Now()
	kc := &slowKeycloak{release: make(chan struct{}), claims: active(now)}
	a, _ := newAuth(kc, ModeIntrospect, &now)
	jwtShaped := sign(t, claimsAt(now))

	gone, cancel := context.WithCancel(context.Background())
	goneErr := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(gone, jwtShaped)
		goneErr <- err
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			c, err := a.Authenticate(context.Background(), jwtShaped)
			if err == nil && c.Subject != "u1" {
				err = errors.New("wrong caller")
			}
			errs <- err
		})
	}
	require.Eventually(t, func() bool { return kc.calls.Load() >= 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // let every request reach the flight
	cancel()
	assert.ErrorIs(t, <-goneErr, keycloak.ErrUnavailable, "the caller that went away gets an answer at once")
	close(kc.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.EqualValues(t, 1, kc.calls.Load(), "one introspection for 21 concurrent requests")

	_, err := a.Authenticate(context.Background(), jwtShaped)
	require.NoError(t, err)
	assert.EqualValues(t, 1, kc.calls.Load(), "then the cache answers")
}
