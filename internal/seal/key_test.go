package seal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseKey(t *testing.T) {
	cases := []struct {
		name, in, wantErr string
	}{
		{"lower case", katKey, ""},
		{"upper case", strings.ToUpper(katKey), ""},
		{"empty", "", "must be 64 hexadecimal characters, got 0"},
		{"63 characters", katKey[:63], "got 63"},
		{"65 characters", katKey + "0", "got 65"},
		{"trailing newline", katKey[:63] + "\n", "character 64 is not a hexadecimal digit"},
		{"raw 32 bytes, not hex", strings.Repeat("k", 32), "got 32"},
		{"non-hex letter", "g" + katKey[1:], "character 1 is not"},
		{"space inside", katKey[:10] + " " + katKey[11:], "character 11 is not"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(tc.in)
			if tc.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, mustHex(t, katKey), k.bytes()[:])
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.False(t, k.set())
			if len(tc.in) >= 8 {
				assert.NotContains(t, err.Error(), tc.in[:8], "an error must never echo the key")
			}
		})
	}
}

func TestNewRingRejectsBadKeys(t *testing.T) {
	a, b := mustKey(t, katKey), mustKey(t, otherKey)
	zero := mustKey(t, strings.Repeat("0", 64))
	cases := []struct {
		name    string
		current Key
		prev    []Key
		wantErr string
	}{
		{"unset current", Key{}, nil, "current key is not set"},
		{"all-zero current", zero, nil, "current key is not set"},
		{"unset previous", a, []Key{b, {}}, "previous key 2 is not set"},
		{"previous equals current", a, []Key{a}, "previous key 1 is the same key as the current key"},
		{"previous twice", a, []Key{b, b}, "previous key 2 is the same key as the previous key 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRing(tc.current, tc.prev...)
			require.Error(t, err)
			assert.Nil(t, r)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.NotContains(t, err.Error(), katKey[:8])
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestSealRejects(t *testing.T) {
	ring := newTestRing(t, katKey)
	cases := []struct {
		name      string
		ring      *Ring
		plaintext []byte
		id        Identity
		wantErr   string
	}{
		{"invalid UTF-8", ring, []byte{'a', 0xff, 'b'}, testID, "not valid UTF-8"},
		{"no row id", ring, []byte("t"), Identity{UserID: "u", TokenType: "REFRESH"}, "identity"},
		{"no user id", ring, []byte("t"), Identity{RowID: "r", TokenType: "REFRESH"}, "identity"},
		{"no token type", ring, []byte("t"), Identity{RowID: "r", UserID: "u"}, "identity"},
		{"no randomness", ring.withRand(failingReader{}), []byte("t"), testID, "entropy exhausted"},
		{"short randomness", ring.withRand(bytes.NewReader(make([]byte, 15))), []byte("t"), testID, "random IV"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.ring.Seal(tc.plaintext, tc.id)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Equal(t, Sealed{}, s)
		})
	}
}

func TestSealUsesFreshIVs(t *testing.T) {
	ring := newTestRing(t, katKey)
	seen := map[string]bool{}
	for range 100 {
		s, err := ring.Seal([]byte(katJWT), testID)
		require.NoError(t, err)
		require.False(t, seen[s.IV], "IV reused")
		seen[s.IV] = true
	}
}

// TestNothingSecretIsPrinted formats every type that holds a key or a
// ciphertext every way a log line or an error could, and looks for them. Keys
// must never show. Sealed's fields are exported for the store, so its
// ciphertext shows where fmt cannot call its methods (an unexported field);
// everywhere else it must not.
func TestNothingSecretIsPrinted(t *testing.T) {
	key := mustKey(t, katKey)
	ring := newTestRing(t, katKey, otherKey)
	s, err := ring.Seal([]byte(katJWT), testID)
	require.NoError(t, err)
	raw := mustHex(t, katKey)

	keySecrets := []string{
		katKey, strings.ToUpper(katKey), otherKey,
		strings.Trim(fmt.Sprint(raw), "[]"), // bytes in decimal, as %v prints a []byte
		fmt.Sprintf("%x", raw[:8]),
		string(raw[:8]),
	}
	rowSecrets := []string{s.Ciphertext[:32], s.MAC[2:34], katJWT[:20]}

	values := []struct {
		name            string
		v               any
		sealedHasMethod bool
	}{
		{"Key", key, true},
		{"*Key", &key, true},
		{"*Ring", ring, true},
		{"Ring", *ring, true},
		{"Sealed", s, true},
		{"*Sealed", &s, true},
		{"struct, exported", struct {
			K Key
			R *Ring
			S Sealed
		}{key, ring, s}, true},
		{"struct, unexported", struct {
			k Key
			r *Ring
			s Sealed
		}{key, ring, s}, false},
		{"slice", []any{key, ring, s}, true},
		{"map", map[string]any{"k": key, "s": s}, true},
	}
	for _, tc := range values {
		t.Run(tc.name, func(t *testing.T) {
			var formatted []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
				formatted = append(formatted, fmt.Sprintf(verb, tc.v))
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "v", tc.v)
			slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "v", tc.v)
			formatted = append(formatted, buf.String())
			js, err := json.Marshal(tc.v)
			require.NoError(t, err)
			formatted = append(formatted, string(js))

			for _, out := range formatted {
				for _, secret := range keySecrets {
					require.NotContains(t, out, secret)
				}
			}
			if tc.sealedHasMethod {
				for _, out := range formatted {
					for _, secret := range rowSecrets {
						require.NotContains(t, out, secret)
					}
				}
			}
		})
	}
	assert.Equal(t, "seal.Key(id="+ring.CurrentKeyID()+")", key.String())
	assert.Contains(t, ring.String(), ring.CurrentKeyID())
	assert.Contains(t, s.String(), s.KeyID)
}
