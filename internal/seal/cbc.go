package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"unicode/utf8"
)

// This file is the Python service's format and nothing else: AES-256-CBC
// with PKCS#7 padding to the 16-byte block. It must stay byte-compatible.

// paddedLen is the ciphertext length for an n-byte plaintext: PKCS#7 always
// adds 1..16 bytes, so a block-aligned plaintext gets a whole padding block.
func paddedLen(n int) int { return n/aes.BlockSize*aes.BlockSize + aes.BlockSize }

// encryptCBC encrypts plaintext into dst (len paddedLen(len(plaintext))).
func encryptCBC(block cipher.Block, iv, dst, plaintext []byte) {
	n := copy(dst, plaintext)
	p := byte(len(dst) - n)
	for i := n; i < len(dst); i++ {
		dst[i] = p
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(dst, dst)
}

// decryptCBC decrypts ct into dst (same length, may be ct itself) and returns
// the plaintext only if the padding is valid PKCS#7 and the result is valid
// UTF-8. Callers have checked that len(iv) is a block and len(ct) a nonzero
// multiple of it.
func decryptCBC(block cipher.Block, iv, dst, ct []byte) ([]byte, bool) {
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(dst, ct)
	n, ok := unpad(dst)
	if !ok || !utf8.Valid(dst[:n]) {
		return nil, false
	}
	return dst[:n:n], true
}

// unpad checks PKCS#7 padding without branching on the padding bytes, so the
// check itself does not time-leak where padding went wrong. (Callers return
// the same error either way.)
func unpad(b []byte) (int, bool) {
	last := b[len(b)-1]
	p := int(last)
	good := subtle.ConstantTimeLessOrEq(1, p) & subtle.ConstantTimeLessOrEq(p, aes.BlockSize)
	for i := range aes.BlockSize {
		inPad := subtle.ConstantTimeLessOrEq(i+1, p)
		same := subtle.ConstantTimeByteEq(b[len(b)-1-i], last)
		good &= same | (inPad ^ 1)
	}
	if good != 1 {
		return 0, false
	}
	return len(b) - p, true
}
