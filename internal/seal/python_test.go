package seal

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeGoVectors regenerates testdata/go_sealed.json, which
// `python3 testdata/pyvault.py check KEY < testdata/go_sealed.json` decrypts
// the Python service's way. Tests read both JSON files and never need Python.
var writeGoVectors = flag.Bool("seal.write-go-vectors", false, "rewrite testdata/go_sealed.json")

// row is one auth_vault row as pyvault.py reads and writes it.
type row struct {
	Plaintext      string `json:"plaintext"`
	EncryptedToken string `json:"encrypted_token"`
	IV             string `json:"iv"`
	TokenHash      string `json:"token_hash"`
	RowID          string `json:"row_id"`
	UserID         string `json:"user_id"`
	TokenType      string `json:"token_type"`
	KeyID          string `json:"key_id"`
	MAC            string `json:"mac"`
}

func (r row) identity() Identity {
	return Identity{RowID: r.RowID, UserID: r.UserID, TokenType: r.TokenType}
}

func readRows(t *testing.T, name string) []row {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var rows []row
	require.NoError(t, json.Unmarshal(b, &rows))
	require.NotEmpty(t, rows)
	return rows
}

// TestPythonVectors checks rows the Python service's code wrote (via
// pyvault.py, with Python's own random IVs) and MACs from an independent
// implementation of the v1 construction.
func TestPythonVectors(t *testing.T) {
	ring := newTestRing(t, katKey)
	for _, r := range readRows(t, "python_vectors.json") {
		t.Run(r.RowID, func(t *testing.T) {
			legacy := Sealed{Ciphertext: r.EncryptedToken, IV: r.IV}
			pt, err := ring.Open(legacy, Identity{})
			require.NoError(t, err, "a Python-written row must open")
			assert.Equal(t, r.Plaintext, string(pt))
			assert.Equal(t, r.TokenHash, Hash(pt))
			assert.True(t, ring.NeedsReseal(legacy))

			assert.Equal(t, r.KeyID, ring.CurrentKeyID(), "key id must match the reference")
			sealed := Sealed{Ciphertext: r.EncryptedToken, IV: r.IV, MAC: r.MAC, KeyID: r.KeyID}
			pt, err = ring.Open(sealed, r.identity())
			require.NoError(t, err, "MAC from the reference implementation must verify")
			assert.Equal(t, r.Plaintext, string(pt))
			assert.False(t, ring.NeedsReseal(sealed))

			s, err := ring.withRand(bytes.NewReader(mustHex(t, r.IV))).Seal([]byte(r.Plaintext), r.identity())
			require.NoError(t, err)
			assert.Equal(t, sealed, s, "Seal with the same IV must reproduce the Python ciphertext and reference MAC")
		})
	}
}

// TestGoVectors keeps opening the rows that were checked once with Python.
func TestGoVectors(t *testing.T) {
	ring := newTestRing(t, katKey)
	if *writeGoVectors {
		var rows []row
		for _, r := range readRows(t, "python_vectors.json") {
			s, err := ring.Seal([]byte(r.Plaintext), r.identity())
			require.NoError(t, err)
			r.EncryptedToken, r.IV, r.MAC, r.KeyID = s.Ciphertext, s.IV, s.MAC, s.KeyID
			rows = append(rows, r)
		}
		b, err := json.MarshalIndent(rows, "", " ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("testdata", "go_sealed.json"), append(b, '\n'), 0o644))
	}
	for _, r := range readRows(t, "go_sealed.json") {
		pt, err := ring.Open(Sealed{Ciphertext: r.EncryptedToken, IV: r.IV, MAC: r.MAC, KeyID: r.KeyID}, r.identity())
		require.NoError(t, err)
		assert.Equal(t, r.Plaintext, string(pt))
	}
}
