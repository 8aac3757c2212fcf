package keyset

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var realmKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func signed(t testing.TB, key any, kid string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), kid))
	require.NoError(t, err)
	jws, err := s.Sign([]byte(`{"sub":"x"}`))
	require.NoError(t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(t, err)
	return raw
}

// realm serves a key set holding realmKey as "k1" (and an encryption key "enc"),
// counting fetches; while fail is set it fails them; block makes them wait.
type realm struct {
	fetches atomic.Int64
	fail    atomic.Bool
	block   chan struct{}
}

func (r *realm) fetch(context.Context) (jose.JSONWebKeySet, error) {
	r.fetches.Add(1)
	if r.block != nil {
		<-r.block
	}
	if r.fail.Load() {
		return jose.JSONWebKeySet{}, errors.New("connection refused")
	}
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: realmKey.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"},
		{Key: realmKey.Public(), KeyID: "enc", Algorithm: "RSA-OAEP", Use: "enc"},
	}}, nil
}

func newSet(r *realm, now *atomic.Int64) *Set {
	return New(r.fetch, Options{Algs: []string{"RS256"}, MinRefresh: 30 * time.Second,
		Now: func() time.Time { return time.Unix(now.Load(), 0) }})
}

func TestVerify(t *testing.T) {
	var now atomic.Int64
	now.Store(1_800_000_000)
	r := &realm{}
	s := newSet(r, &now)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	payload, err := s.VerifySignature(context.Background(), signed(t, realmKey, "k1"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"sub":"x"}`, string(payload))

	_, err = s.VerifySignature(context.Background(), signed(t, other, "k1"))
	assert.ErrorIs(t, err, ErrBadSignature)
	_, err = s.VerifySignature(context.Background(), signed(t, realmKey, "enc"))
	assert.ErrorIs(t, err, ErrBadSignature, "an encryption key never verifies")
	_, err = s.VerifySignature(context.Background(), "a.b.c")
	assert.ErrorIs(t, err, ErrMalformed)
	assert.EqualValues(t, 1, r.fetches.Load(), "known key ids never fetch")

	for range 20 {
		_, err = s.VerifySignature(context.Background(), signed(t, other, "k2"))
		assert.ErrorIs(t, err, ErrUnknownKey)
	}
	assert.EqualValues(t, 1, r.fetches.Load(), "unknown key ids within MinRefresh of the last fetch")
	now.Add(30)
	_, err = s.VerifySignature(context.Background(), signed(t, other, "k3"))
	assert.ErrorIs(t, err, ErrUnknownKey)
	assert.EqualValues(t, 2, r.fetches.Load(), "one fetch per MinRefresh")
}

func TestConcurrentUnknownKeysShareOneFetch(t *testing.T) {
	var now atomic.Int64
	now.Store(1_800_000_000)
	r := &realm{block: make(chan struct{})}
	s := newSet(r, &now)
	var wg sync.WaitGroup
	for i := range 30 {
		tok := signed(t, realmKey, "k1")
		if i%2 == 1 {
			tok = signed(t, realmKey, "unknown")
		}
		wg.Go(func() { _, _ = s.VerifySignature(context.Background(), tok) })
	}
	require.Eventually(t, func() bool { return r.fetches.Load() == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	close(r.block)
	wg.Wait()
	assert.EqualValues(t, 1, r.fetches.Load())
}

func TestFailedFetchBacksOff(t *testing.T) {
	var now atomic.Int64
	now.Store(1_800_000_000)
	r := &realm{}
	r.fail.Store(true)
	s := newSet(r, &now)
	for range 10 {
		_, err := s.VerifySignature(context.Background(), signed(t, realmKey, "k1"))
		assert.ErrorIs(t, err, ErrUnavailable)
	}
	assert.EqualValues(t, 1, r.fetches.Load(), "one failed fetch per second at most")
	r.fail.Store(false)
	now.Add(1)
	_, err := s.VerifySignature(context.Background(), signed(t, realmKey, "k1"))
	require.NoError(t, err)
	assert.EqualValues(t, 2, r.fetches.Load())
}

func TestPrefetch(t *testing.T) {
	var now atomic.Int64
	now.Store(1_800_000_000)
	r := &realm{}
	r.fail.Store(true)
	s := newSet(r, &now)
	require.ErrorIs(t, s.Prefetch(context.Background()), ErrUnavailable)
	r.fail.Store(false)
	_, err := s.VerifySignature(context.Background(), signed(t, realmKey, "k1"))
	require.NoError(t, err, "a failed start-up fetch does not make the first token wait")
	assert.EqualValues(t, 2, r.fetches.Load())
	require.NoError(t, s.Prefetch(context.Background()))
	_, err = s.VerifySignature(context.Background(), signed(t, realmKey, "unknown"))
	assert.ErrorIs(t, err, ErrUnknownKey)
	assert.EqualValues(t, 3, r.fetches.Load(), "an unknown kid within the interval of the last fetch: no fetch")
}

// TestTokenDuringPrefetchSharesIt: a token arriving while the start-up fetch is under
// way waits for it instead of fetching again.
func TestTokenDuringPrefetchSharesIt(t *testing.T) {
	var now atomic.Int64
	now.Store(1_800_000_000)
	r := &realm{block: make(chan struct{})}
	s := newSet(r, &now)
	prefetched := make(chan error, 1)
	go func() { prefetched <- s.Prefetch(context.Background()) }()
	require.Eventually(t, func() bool { return r.fetches.Load() == 1 }, 5*time.Second, time.Millisecond)
	verified := make(chan error, 1)
	go func() {
		_, err := s.VerifySignature(context.Background(), signed(t, realmKey, "k1"))
		verified <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(r.block)
	require.NoError(t, <-prefetched)
	require.NoError(t, <-verified)
	assert.EqualValues(t, 1, r.fetches.Load())
}
