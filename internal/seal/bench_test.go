package seal

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// typicalToken is an ~800-byte JWT-shaped token, the size of a Keycloak
// offline token.
var typicalToken = []byte((katJWT + "." + strings.Repeat("Zm9vYmFy", 100))[:800])

func BenchmarkSeal(b *testing.B) {
	ring := newTestRing(b, katKey)
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalToken)))
	for b.Loop() {
		if _, err := ring.Seal(typicalToken, testID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	ring := newTestRing(b, katKey)
	s, err := ring.Seal(typicalToken, testID)
	require.NoError(b, err)
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalToken)))
	for b.Loop() {
		if _, err := ring.Open(s, testID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenLegacy(b *testing.B) {
	ring := newTestRing(b, otherKey, katKey) // worst case: the row's key is the last one tried
	s, err := newTestRing(b, katKey).Seal(typicalToken, testID)
	require.NoError(b, err)
	legacy := Sealed{Ciphertext: s.Ciphertext, IV: s.IV}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ring.Open(legacy, Identity{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentUse shares one ring between goroutines; run with -race, it
// checks the pooled MAC states are never shared between two calls.
func TestConcurrentUse(t *testing.T) {
	ring := newTestRing(t, katKey, otherKey)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			id := testID
			id.RowID = strings.Repeat(string(rune('a'+g)), g+1)
			for range 200 {
				s, err := ring.Seal(typicalToken, id)
				if err != nil {
					errs <- err
					return
				}
				pt, err := ring.Open(s, id)
				if err != nil || string(pt) != string(typicalToken) {
					errs <- ErrUnusable
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}
