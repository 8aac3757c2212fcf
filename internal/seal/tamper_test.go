package seal

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const otherKey = "1f0e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100"

var testID = Identity{RowID: "0b7d6f0e-8a43-4c3e-9f0c-2d1f6b9a7e55", UserID: "5f8d1c2a-3b4e-4f60-8a71-92b3c4d5e6f7", TokenType: "OFFLINE"}

// flip inverts the lowest bit of the hex digit at i (negative i counts from the end).
func flip(s string, i int) string {
	if i < 0 {
		i += len(s)
	}
	b := []byte(s)
	v := strings.IndexByte("0123456789abcdef", b[i]) // Seal writes lower case
	b[i] = "0123456789abcdef"[v^1]
	return string(b)
}

// requireUnusable asserts the one failure Open may report, and no plaintext.
func requireUnusable(t *testing.T, pt []byte, err error) {
	t.Helper()
	require.Error(t, err)
	assert.True(t, err == ErrUnusable, "Open must return ErrUnusable itself, unwrapped, got %v", err)
	assert.Nil(t, pt)
}

func TestOpenRejectsTampering(t *testing.T) {
	ring := newTestRing(t, katKey)
	other := newTestRing(t, otherKey)
	s, err := ring.Seal([]byte(katJWT), testID)
	require.NoError(t, err)

	with := func(f func(*Sealed)) Sealed { c := s; f(&c); return c }
	ident := func(f func(*Identity)) Identity { c := testID; f(&c); return c }

	cases := []struct {
		name string
		s    Sealed
		id   Identity
	}{
		{"IV bit", with(func(c *Sealed) { c.IV = flip(c.IV, 0) }), testID},
		{"IV last bit", with(func(c *Sealed) { c.IV = flip(c.IV, -1) }), testID},
		{"ciphertext first block", with(func(c *Sealed) { c.Ciphertext = flip(c.Ciphertext, 3) }), testID},
		{"ciphertext last block", with(func(c *Sealed) { c.Ciphertext = flip(c.Ciphertext, -1) }), testID},
		{"MAC tag bit", with(func(c *Sealed) { c.MAC = flip(c.MAC, 10) }), testID},
		{"MAC last bit", with(func(c *Sealed) { c.MAC = flip(c.MAC, -1) }), testID},
		{"MAC version", with(func(c *Sealed) { c.MAC = "02" + c.MAC[2:] }), testID},
		{"key id of another key", with(func(c *Sealed) { c.KeyID = other.CurrentKeyID() }), testID},
		{"key id bit", with(func(c *Sealed) { c.KeyID = flip(c.KeyID, 0) }), testID},
		{"key id upper case", with(func(c *Sealed) { c.KeyID = strings.ToUpper(c.KeyID) }), testID},
		{"MAC without key id", with(func(c *Sealed) { c.KeyID = "" }), testID},
		{"key id without MAC", with(func(c *Sealed) { c.MAC = "" }), testID},
		{"other user", s, ident(func(i *Identity) { i.UserID = "00000000-0000-4000-8000-000000000001" })},
		{"other row", s, ident(func(i *Identity) { i.RowID = "00000000-0000-4000-8000-000000000002" })},
		{"other token type", s, ident(func(i *Identity) { i.TokenType = "REFRESH" })},
		{"token type case", s, ident(func(i *Identity) { i.TokenType = "offline" })},
		{"empty identity", s, Identity{}},
		{"field boundary moved", s, Identity{RowID: testID.RowID + testID.UserID[:1], UserID: testID.UserID[1:], TokenType: testID.TokenType}},
		{"ciphertext empty", with(func(c *Sealed) { c.Ciphertext = "" }), testID},
		{"ciphertext odd length", with(func(c *Sealed) { c.Ciphertext = c.Ciphertext[:len(c.Ciphertext)-1] }), testID},
		{"ciphertext one byte short", with(func(c *Sealed) { c.Ciphertext = c.Ciphertext[:len(c.Ciphertext)-2] }), testID},
		{"ciphertext one block short", with(func(c *Sealed) { c.Ciphertext = c.Ciphertext[:len(c.Ciphertext)-32] }), testID},
		{"ciphertext block appended", with(func(c *Sealed) { c.Ciphertext += c.Ciphertext[:32] }), testID},
		{"ciphertext not hex", with(func(c *Sealed) { c.Ciphertext = "zz" + c.Ciphertext[2:] }), testID},
		{"IV empty", with(func(c *Sealed) { c.IV = "" }), testID},
		{"IV odd length", with(func(c *Sealed) { c.IV = c.IV[:31] }), testID},
		{"IV too long", with(func(c *Sealed) { c.IV += "00" }), testID},
		{"IV not hex", with(func(c *Sealed) { c.IV = "g" + c.IV[1:] }), testID},
		{"MAC truncated", with(func(c *Sealed) { c.MAC = c.MAC[:64] }), testID},
		{"MAC odd length", with(func(c *Sealed) { c.MAC = c.MAC[:65] }), testID},
		{"MAC too long", with(func(c *Sealed) { c.MAC += "00" }), testID},
		{"MAC not hex", with(func(c *Sealed) { c.MAC = c.MAC[:40] + "--" + c.MAC[42:] }), testID},
		{"swapped IV and ciphertext", with(func(c *Sealed) { c.IV, c.Ciphertext = c.Ciphertext[:32], c.IV }), testID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := ring.Open(tc.s, tc.id)
			requireUnusable(t, pt, err)
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		pt, err := other.Open(s, testID)
		requireUnusable(t, pt, err)
	})
	t.Run("untouched opens", func(t *testing.T) {
		pt, err := ring.Open(s, testID)
		require.NoError(t, err)
		assert.Equal(t, katJWT, string(pt))
	})
	t.Run("upper-case hex opens", func(t *testing.T) {
		// Same bytes: Python's bytes.fromhex accepts either case, so do we.
		u := Sealed{Ciphertext: strings.ToUpper(s.Ciphertext), IV: strings.ToUpper(s.IV), MAC: strings.ToUpper(s.MAC), KeyID: s.KeyID}
		pt, err := ring.Open(u, testID)
		require.NoError(t, err)
		assert.Equal(t, katJWT, string(pt))
	})
}

func TestOpenRejectsBadLegacyRows(t *testing.T) {
	ring := newTestRing(t, katKey)
	v := katVectors[len(katVectors)-1]
	legacy := Sealed{Ciphertext: v.ciphertext, IV: katIV}
	cases := []struct {
		name string
		ring *Ring
		s    Sealed
	}{
		{"wrong key", newTestRing(t, otherKey), legacy},
		{"last block bit (padding)", ring, Sealed{Ciphertext: flip(v.ciphertext, -33), IV: katIV}},
		{"truncated by a block", ring, Sealed{Ciphertext: v.ciphertext[:len(v.ciphertext)-32], IV: katIV}},
		{"odd length", ring, Sealed{Ciphertext: v.ciphertext[:len(v.ciphertext)-1], IV: katIV}},
		{"not a block", ring, Sealed{Ciphertext: v.ciphertext[:30], IV: katIV}},
		{"empty", ring, Sealed{IV: katIV}},
		{"IV short", ring, Sealed{Ciphertext: v.ciphertext, IV: katIV[:30]}},
		{"not hex", ring, Sealed{Ciphertext: "x" + v.ciphertext[1:], IV: katIV}},
		{"rejected by a strict ring", ring.RejectLegacy(), legacy},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.ring.Open(tc.s, testID)
			requireUnusable(t, pt, err)
		})
	}
}

// TestLegacyLimits pins down what a legacy row cannot guarantee, and that a
// strict ring closes it: CBC without a MAC is malleable, and stripping the
// MAC from a new row turns it into a legacy row that is not bound to its id.
func TestLegacyLimits(t *testing.T) {
	ring := newTestRing(t, katKey)
	strict := ring.RejectLegacy()
	s, err := ring.Seal([]byte(katJWT), testID)
	require.NoError(t, err)

	flipped := Sealed{Ciphertext: s.Ciphertext, IV: flip(s.IV, 1)} // flips a bit of the first plaintext byte
	pt, err := ring.Open(flipped, testID)
	require.NoError(t, err, "an unauthenticated legacy row cannot detect this")
	assert.NotEqual(t, katJWT, string(pt))

	stripped := Sealed{Ciphertext: s.Ciphertext, IV: s.IV}
	pt, err = ring.Open(stripped, Identity{UserID: "someone else"})
	require.NoError(t, err, "a stripped row opens as legacy, for any identity")
	assert.Equal(t, katJWT, string(pt))

	for _, x := range []Sealed{flipped, stripped} {
		pt, err := strict.Open(x, testID)
		requireUnusable(t, pt, err)
	}
	pt, err = strict.Open(s, testID)
	require.NoError(t, err, "a strict ring still opens sealed rows")
	assert.Equal(t, katJWT, string(pt))
}
