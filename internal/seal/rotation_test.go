package seal

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRotation(t *testing.T) {
	keyA, keyB := katKey, otherKey
	ringA := newTestRing(t, keyA)
	ringBA := newTestRing(t, keyB, keyA)
	ringB := newTestRing(t, keyB)

	underA, err := ringA.Seal([]byte("token sealed under A"), testID)
	require.NoError(t, err)
	underB, err := ringBA.Seal([]byte("token sealed under B"), testID)
	require.NoError(t, err)
	legacyA := Sealed{Ciphertext: katVectors[4].ciphertext, IV: katIV} // Python row under A

	assert.Equal(t, ringB.CurrentKeyID(), ringBA.CurrentKeyID())
	assert.NotEqual(t, ringA.CurrentKeyID(), ringBA.CurrentKeyID())
	assert.Equal(t, ringBA.CurrentKeyID(), underB.KeyID)

	cases := []struct {
		name        string
		ring        *Ring
		s           Sealed
		want        string // "" means ErrUnusable
		needsReseal bool
	}{
		{"B+A opens A row", ringBA, underA, "token sealed under A", true},
		{"B+A opens B row", ringBA, underB, "token sealed under B", false},
		{"B+A opens legacy A row", ringBA, legacyA, katJWT, true},
		{"A opens A row", ringA, underA, "token sealed under A", false},
		{"A cannot open B row", ringA, underB, "", true},
		{"B cannot open A row", ringB, underA, "", true},
		{"B cannot open legacy A row", ringB, legacyA, "", true},
		{"A opens legacy A row", ringA, legacyA, katJWT, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.needsReseal, tc.ring.NeedsReseal(tc.s))
			pt, err := tc.ring.Open(tc.s, testID)
			if tc.want == "" {
				requireUnusable(t, pt, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(pt))
		})
	}

	t.Run("reseal moves a row to the current key", func(t *testing.T) {
		pt, err := ringBA.Open(underA, testID)
		require.NoError(t, err)
		again, err := ringBA.Seal(pt, testID)
		require.NoError(t, err)
		assert.False(t, ringBA.NeedsReseal(again))
		pt, err = ringB.Open(again, testID)
		require.NoError(t, err, "after resealing, A can be dropped")
		assert.Equal(t, "token sealed under A", string(pt))
	})
}

func TestNeedsResealOddRows(t *testing.T) {
	ring := newTestRing(t, katKey)
	s, err := ring.Seal([]byte("x"), testID)
	require.NoError(t, err)
	for name, x := range map[string]Sealed{
		"MAC only":       {Ciphertext: s.Ciphertext, IV: s.IV, MAC: s.MAC},
		"key id only":    {Ciphertext: s.Ciphertext, IV: s.IV, KeyID: s.KeyID},
		"future version": {Ciphertext: s.Ciphertext, IV: s.IV, MAC: "02" + s.MAC[2:], KeyID: s.KeyID},
		"short MAC":      {Ciphertext: s.Ciphertext, IV: s.IV, MAC: "01", KeyID: s.KeyID},
	} {
		assert.True(t, ring.NeedsReseal(x), name)
	}
}
