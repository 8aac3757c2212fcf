package seal

import (
	"crypto/aes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"unicode/utf8"
)

// ErrUnusable is the one error Open returns, whatever went wrong: malformed
// columns, an unknown key, a MAC that does not verify, bad padding. A caller
// that could tell these apart would hold a padding oracle, so it cannot.
var ErrUnusable = errors.New("seal: sealed token is unusable")

var (
	errNotUTF8    = errors.New("seal: plaintext is not valid UTF-8")
	errNoIdentity = errors.New("seal: identity needs a row id, a user id and a token type")
)

// Identity binds a sealed token to its row, so a row copied to another id,
// user or token type fails to open. Fields are compared byte for byte: pass
// the database's text forms (lower-case hyphenated UUIDs, the enum label
// "REFRESH" or "OFFLINE"), the same way on every Seal and Open.
type Identity struct {
	RowID, UserID, TokenType string
}

// Sealed holds the auth_vault columns this package owns. MAC and KeyID are
// both empty for a legacy row written by the Python service.
type Sealed struct {
	Ciphertext string // encrypted_token: hex of the AES-256-CBC ciphertext
	IV         string // iv: hex of the 16-byte IV
	MAC        string // mac: hex of version ‖ HMAC-SHA256 tag
	KeyID      string // key_id: id of the key that sealed the row
}

// Seal encrypts plaintext in the Python service's format under the current
// key, with a fresh random IV, and tags it with its identity. The plaintext
// must be valid UTF-8 (the Python service could store nothing else, and a
// rollback must still decrypt it) and every identity field must be set: the
// row id has to be chosen before sealing.
func (r *Ring) Seal(plaintext []byte, id Identity) (Sealed, error) {
	if !utf8.Valid(plaintext) {
		return Sealed{}, errNotUTF8
	}
	if id.RowID == "" || id.UserID == "" || id.TokenType == "" {
		return Sealed{}, errNoIdentity
	}
	k := r.keys[0]
	buf := make([]byte, aes.BlockSize+paddedLen(len(plaintext)))
	iv, ct := buf[:aes.BlockSize], buf[aes.BlockSize:]
	if _, err := io.ReadFull(r.rand, iv); err != nil {
		return Sealed{}, fmt.Errorf("seal: reading a random IV: %w", err)
	}
	encryptCBC(k.block, iv, ct, plaintext)
	var mac [macSize]byte
	tag(k.macs, &mac, k.id, iv, ct, id)

	return Sealed{Ciphertext: hex.EncodeToString(ct), IV: hex.EncodeToString(iv), MAC: hex.EncodeToString(mac[:]), KeyID: k.id}, nil
}

// Open returns the plaintext of s, or ErrUnusable. A row with a MAC opens only
// if its key is in the ring and the tag over its key id, IV, ciphertext and id
// verifies; nothing is decrypted before that.
//
// A legacy row (no MAC, no key id) cannot be authenticated. Open tries the
// current key, then the previous ones, and accepts the first result with valid
// PKCS#7 padding that is valid UTF-8; id is not checked. That is acceptable
// only because such rows come from our own database, written by the Python
// service, and never from a caller, so nobody can use Open as a padding
// oracle; the UTF-8 check makes a wrong key that happens to leave valid
// padding (about 1 in 256) vanishingly unlikely to yield "plaintext". It
// cannot stop someone who can write the table from altering a legacy row, which
// is why NeedsReseal flags these rows and RejectLegacy exists.
func (r *Ring) Open(s Sealed, id Identity) ([]byte, error) {
	if s.MAC == "" && s.KeyID == "" {
		return r.openLegacy(s)
	}
	k := r.lookup(s.KeyID)
	if k == nil {
		return nil, ErrUnusable
	}
	var got [macSize]byte
	if !decodeHex(got[:], s.MAC) || got[0] != version {
		return nil, ErrUnusable
	}
	iv, ct, ok := decodeBody(s, 0)
	if !ok {
		return nil, ErrUnusable
	}
	var want [macSize]byte
	tag(k.macs, &want, k.id, iv, ct, id)
	if !hmac.Equal(want[:], got[:]) {
		return nil, ErrUnusable
	}
	pt, ok := decryptCBC(k.block, iv, ct, ct)
	if !ok {
		return nil, ErrUnusable // a verified tag over bad padding: not something Seal writes
	}
	return pt, nil
}

func (r *Ring) openLegacy(s Sealed) ([]byte, error) {
	if r.rejectLegacy {
		return nil, ErrUnusable
	}
	iv, ct, ok := decodeBody(s, 1)
	if !ok {
		return nil, ErrUnusable
	}
	// Each try decrypts into the same scratch space so ct survives for the next key.
	dst := ct[len(ct)/2:]
	ct = ct[:len(ct)/2]
	for _, k := range r.keys {
		if pt, ok := decryptCBC(k.block, iv, dst, ct); ok {
			return pt, nil
		}
	}
	return nil, ErrUnusable
}

// decodeBody decodes the iv and encrypted_token columns into one allocation,
// with extra times the ciphertext length of scratch space after ct (returned
// as part of ct). It checks every length before slicing.
func decodeBody(s Sealed, extra int) (iv, ct []byte, ok bool) {
	n := len(s.Ciphertext) / 2
	if len(s.IV) != 2*aes.BlockSize || n == 0 || len(s.Ciphertext)%(2*aes.BlockSize) != 0 {
		return nil, nil, false
	}
	buf := make([]byte, aes.BlockSize+n*(1+extra))
	iv, ct = buf[:aes.BlockSize], buf[aes.BlockSize:]
	if !decodeHex(iv, s.IV) || !decodeHex(ct[:n], s.Ciphertext) {
		return nil, nil, false
	}
	return iv, ct, true
}

// decodeHex fills dst from s and reports whether s was exactly 2*len(dst) hexadecimal
// characters (either case: Python's bytes.fromhex accepts both).
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}

// hasCurrentVersion reports whether a mac column was written by this version
// of Seal, without decoding it.
func hasCurrentVersion(mac string) bool {
	return len(mac) == 2*macSize && mac[:2] == "01"
}

// Hash is the token_hash column: lower-case hex SHA-256 of the plaintext, as
// the Python service computed it.
func Hash(plaintext []byte) string {
	sum := sha256.Sum256(plaintext)
	return hex.EncodeToString(sum[:])
}

// String shows which key sealed s and how long it is, never the ciphertext.
func (s Sealed) String() string {
	kid := s.KeyID
	if s.MAC == "" && kid == "" {
		kid = "legacy"
	}
	return fmt.Sprintf("seal.Sealed(key_id=%q ciphertext=%d hex chars)", kid, len(s.Ciphertext))
}

// GoString keeps %#v as safe as %v.
func (s Sealed) GoString() string { return s.String() }

// Format makes every fmt verb (%d and %x included) print String.
func (s Sealed) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON writes String: a Sealed is only ever stored column by column, so
// JSON of it can only be a log line or a response, where slog's JSON handler
// would otherwise print nested values' ciphertext despite LogValue.
func (s Sealed) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue keeps the ciphertext out of slog output.
func (s Sealed) LogValue() slog.Value { return slog.StringValue(s.String()) }
