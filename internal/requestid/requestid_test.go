package requestid_test

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/requestid"
)

func TestNewIsHexAndUnique(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := make(map[string]bool, 100000)
	for range 100000 {
		id := requestid.New()
		if !shape.MatchString(id) {
			t.Fatalf("%q is not 32 lowercase hex characters", id)
		}
		if seen[id] {
			t.Fatalf("%q generated twice", id)
		}
		seen[id] = true
	}
}

// TestNewUsesEveryDigit guards the hand-written hex encoding: over many ids every
// position takes every one of the 16 digits.
func TestNewUsesEveryDigit(t *testing.T) {
	var digits [32]map[byte]bool
	for i := range digits {
		digits[i] = map[byte]bool{}
	}
	for range 5000 {
		id := requestid.New()
		for i := range len(id) {
			digits[i][id[i]] = true
		}
	}
	for i, d := range digits {
		assert.Len(t, d, 16, "position %d", i)
	}
}

var sink string

// BenchmarkNew compares the id with what it replaced (crypto/rand plus hex).
func BenchmarkNew(b *testing.B) {
	b.Run("math-rand-v2", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			sink = requestid.New()
		}
	})
	b.Run("crypto-rand-hex", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var x [16]byte
			_, _ = rand.Read(x[:])
			sink = hex.EncodeToString(x[:])
		}
	})
}
