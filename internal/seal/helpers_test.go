package seal

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func mustKey(t testing.TB, s string) Key {
	t.Helper()
	k, err := ParseKey(s)
	require.NoError(t, err)
	return k
}

// newTestRing builds a ring from hex keys, the first one current.
func newTestRing(t testing.TB, current string, previous ...string) *Ring {
	t.Helper()
	prev := make([]Key, len(previous))
	for i, p := range previous {
		prev[i] = mustKey(t, p)
	}
	r, err := NewRing(mustKey(t, current), prev...)
	require.NoError(t, err)
	return r
}
