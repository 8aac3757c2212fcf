package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sync"
)

// version is the first byte of the MAC input and of the mac column, so a
// reader knows which construction a row uses before trusting anything else.
const version = 1

// macSize is the decoded length of the mac column: version byte + HMAC-SHA256.
const macSize = 1 + sha256.Size

// macState is pooled per key: hmac.New allocates several objects and the key
// schedule, and a token is sealed or opened on every access-token request.
type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte // Sum into pooled memory keeps the callers' arrays on the stack
}

func newMACPool(macKey []byte) *sync.Pool {
	return &sync.Pool{New: func() any {
		return &macState{h: hmac.New(sha256.New, macKey), buf: make([]byte, 0, 256)}
	}}
}

// tag computes version ‖ HMAC-SHA256(macKey, input) into out, where input is
//
//	version(1) ‖ field(keyID) ‖ field(iv) ‖ field(ct) ‖ field(rowID) ‖ field(userID) ‖ field(tokenType)
//	field(x) = uint64 big-endian len(x) ‖ x
//
// The length prefixes make the encoding injective: no two different tuples of
// fields produce the same input, so no row's tag fits another identity.
func tag(pool *sync.Pool, out *[macSize]byte, keyID string, iv, ct []byte, id Identity) {
	st := pool.Get().(*macState)
	defer pool.Put(st)
	st.h.Reset()

	b := append(st.buf[:0], version)
	b = appendField(b, keyID)
	b = binary.BigEndian.AppendUint64(b, uint64(len(iv)))
	b = append(b, iv...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(ct)))
	st.h.Write(b)
	st.h.Write(ct) // written directly: it is the one field that can be large
	b = appendField(b[:0], id.RowID)
	b = appendField(b, id.UserID)
	b = appendField(b, id.TokenType)
	st.h.Write(b)
	st.buf = b[:0]

	out[0] = version
	copy(out[1:], st.h.Sum(st.sum[:0]))
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}
