package seal

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzOpen feeds Open arbitrary columns and identities. It must never panic,
// and a strict ring (no legacy rows) may only ever return a plaintext that was
// sealed, with the exact identity and the same column bytes it was sealed
// with. A lenient ring must agree with it on rows that carry a MAC, and may
// return only valid UTF-8 for legacy rows (which CBC cannot authenticate; see
// TestLegacyLimits).
func FuzzOpen(f *testing.F) {
	// Fuzz workers rerun this setup, so the IVs must be the same in every
	// process for the seeds to be in every worker's table of sealed values.
	ivs := rand.NewChaCha8([32]byte{})
	ringAB := newTestRing(f, katKey, otherKey).withRand(ivs) // A current, B previous
	ringB := newTestRing(f, otherKey).withRand(ivs)
	strict := ringAB.RejectLegacy()

	type seed struct {
		s  Sealed
		id Identity
	}
	sealed := map[string]string{} // canonical columns+identity → plaintext
	canon := func(s Sealed, id Identity) string {
		return strings.Join([]string{strings.ToLower(s.Ciphertext), strings.ToLower(s.IV), strings.ToLower(s.MAC), s.KeyID, id.RowID, id.UserID, id.TokenType}, "\x00")
	}
	var seeds []seed
	for i, pt := range []string{"", "a", "abcdefghijklmnop", "tøkén 🔑", katJWT} {
		id := Identity{RowID: testID.RowID, UserID: testID.UserID, TokenType: []string{"REFRESH", "OFFLINE"}[i%2]}
		for _, r := range []*Ring{ringAB, ringB} {
			s, err := r.Seal([]byte(pt), id)
			if err != nil {
				f.Fatal(err)
			}
			sealed[canon(s, id)] = pt
			seeds = append(seeds, seed{s, id})
		}
	}
	for _, v := range katVectors {
		seeds = append(seeds, seed{Sealed{Ciphertext: v.ciphertext, IV: katIV}, Identity{}})
	}
	seeds = append(seeds, seed{Sealed{Ciphertext: "zz", IV: "0", MAC: "01", KeyID: "x"}, Identity{RowID: "\x00"}})
	for _, sd := range seeds {
		f.Add(sd.s.Ciphertext, sd.s.IV, sd.s.MAC, sd.s.KeyID, sd.id.RowID, sd.id.UserID, sd.id.TokenType)
	}

	f.Fuzz(func(t *testing.T, ct, iv, mac, keyID, rowID, userID, tokenType string) {
		s := Sealed{Ciphertext: ct, IV: iv, MAC: mac, KeyID: keyID}
		id := Identity{RowID: rowID, UserID: userID, TokenType: tokenType}

		strictPT, strictErr := strict.Open(s, id)
		if strictErr != nil {
			if strictErr != ErrUnusable || strictPT != nil {
				t.Fatalf("failure must be (nil, ErrUnusable), got (%q, %v)", strictPT, strictErr)
			}
		} else if want, ok := sealed[canon(s, id)]; !ok || want != string(strictPT) {
			t.Fatalf("strict ring opened something that was never sealed: %q", strictPT)
		}

		pt, err := ringAB.Open(s, id)
		if err != nil && (err != ErrUnusable || pt != nil) {
			t.Fatalf("failure must be (nil, ErrUnusable), got (%q, %v)", pt, err)
		}
		if mac != "" || keyID != "" {
			if (err == nil) != (strictErr == nil) || string(pt) != string(strictPT) {
				t.Fatalf("lenient and strict rings disagree on a row with a MAC")
			}
		} else if err == nil && !utf8.Valid(pt) {
			t.Fatalf("legacy open returned invalid UTF-8")
		}
		_ = ringAB.NeedsReseal(s)
	})
}
