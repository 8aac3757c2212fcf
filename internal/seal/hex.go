package seal

import (
	"encoding/hex"
	"strings"
)

// A small hex decoder that reads strings directly: it avoids a []byte copy of
// every column (and of the key), and it accepts either case because Python's
// bytes.fromhex does.

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeHex fills dst from s and reports whether s was exactly 2*len(dst)
// hexadecimal characters. On false dst holds partial output and must be
// ignored.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

// writeHex appends lower-case hex of src to b through a stack buffer, so the
// builder's one allocation is the only one.
func writeHex(b *strings.Builder, src []byte) {
	var chunk [128]byte
	for len(src) > 0 {
		n := min(len(src), len(chunk)/2)
		hex.Encode(chunk[:], src[:n])
		b.Write(chunk[:2*n])
		src = src[n:]
	}
}
