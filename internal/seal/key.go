package seal

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
)

// KeySize is the length of a vault key in bytes (AES-256).
const KeySize = 32

// HKDF info strings. Each derived value gets its own, so the MAC key, the key
// id and the AES key (the raw key, as the Python format requires) are
// independent; bumping a version here changes every derived value.
const (
	infoMAC   = "auth-manager/vault/mac/v1"
	infoKeyID = "auth-manager/vault/key-id/v1"
	keyIDSize = 8 // bytes; 64 bits tell a handful of keys apart and reveal nothing
)

// Key is a vault master key: the 32 raw bytes of
// AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY. Every way of formatting or logging
// a Key shows only its key id. The bytes are reachable only through a closure:
// where fmt cannot call the methods below (a Key in an unexported field) it
// prints a func as an address, whereas it prints a pointer's target for some
// verbs (%s, %q) and an array always.
type Key struct{ material func() *[KeySize]byte }

// ParseKey decodes a key given as exactly 64 hexadecimal characters (either
// case). Its errors give the length or the position of a bad character, never
// any part of the value.
func ParseKey(s string) (Key, error) {
	if len(s) != 2*KeySize {
		return Key{}, fmt.Errorf("seal: key must be %d hexadecimal characters, got %d", 2*KeySize, len(s))
	}
	var b [KeySize]byte
	if !decodeHex(b[:], s) {
		// hex's error quotes the bad character, which is part of the key: name its place.
		i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF", r) })
		return Key{}, fmt.Errorf("seal: key character %d is not a hexadecimal digit", i+1)
	}
	return keyOf(&b), nil
}

func keyOf(b *[KeySize]byte) Key { return Key{material: func() *[KeySize]byte { return b }} }

// bytes returns the key material; only NewRing and the derivations read it.
func (k Key) bytes() *[KeySize]byte { return k.material() }

// set reports whether k holds a usable key: the zero Key and the all-zero key
// are both treated as "not configured".
func (k Key) set() bool {
	if k.material == nil {
		return false
	}
	var acc byte
	for _, c := range k.bytes() {
		acc |= c
	}
	return acc != 0
}

// macKey derives the HMAC key, so the AES key is never used as a MAC key.
func (k Key) macKey() []byte {
	return derive(k.bytes(), infoMAC, sha256.Size)
}

// id is the public, stable name of k stored in the key_id column.
func (k Key) id() string {
	return hex.EncodeToString(derive(k.bytes(), infoKeyID, keyIDSize))
}

func derive(secret *[KeySize]byte, info string, n int) []byte {
	out, err := hkdf.Key(sha256.New, secret[:], nil, info, n)
	if err != nil {
		// Only reachable for n > 255*32 or a FIPS-mode key-length rule, both
		// ruled out by the constants above: a programming error.
		panic("seal: hkdf: " + err.Error())
	}
	return out
}

// String shows the key id only.
func (k Key) String() string {
	if !k.set() {
		return "seal.Key(unset)"
	}
	return "seal.Key(id=" + k.id() + ")"
}

// GoString keeps %#v as safe as %v.
func (k Key) GoString() string { return k.String() }

// Format makes every fmt verb (%x and %d included) print String.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue keeps the key out of slog output.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }
