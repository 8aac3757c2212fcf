package requestid

import "math/rand/v2"

const hexDigits = "0123456789abcdef"

// New returns a fresh request id: 32 lowercase hex characters (128 random bits), the
// shape the service always gave its ids. The bits come from the runtime's per-thread
// ChaCha8 generator (math/rand/v2), seeded from the kernel: as unpredictable and as
// unlikely to repeat as crypto/rand's for an identifier, without crypto/rand's
// system call and locking on every request. A request id is a correlation handle, not
// a secret: nothing may ever be authorised by knowing one.
func New() string {
	var b [32]byte
	for half := range 2 {
		v := rand.Uint64()
		for i := range 16 {
			b[half*16+i] = hexDigits[v>>60]
			v <<= 4
		}
	}
	return string(b[:])
}
