package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Ring is the set of keys the vault knows: the current key, which seals, and
// previous keys, which only open rows not yet sealed again. A Ring is
// immutable and safe for concurrent use. It holds no raw key bytes, only the
// expanded AES key and pooled HMAC states, and it formats and logs as key ids.
// Make one with NewRing; the zero Ring holds no key and cannot seal.
type Ring struct {
	keys         []*ringKey // keys[0] is the current key
	rand         io.Reader  // IV source; replaced only by tests
	rejectLegacy bool
}

type ringKey struct {
	id    string
	block cipher.Block
	macs  *sync.Pool // of *macState keyed with this key's MAC key
}

// NewRing builds a ring that seals with current and opens rows sealed with
// current or any of previous. Keys must be set, non-zero and distinct.
func NewRing(current Key, previous ...Key) (*Ring, error) {
	r := &Ring{rand: rand.Reader}
	seen := map[string]string{}
	for i, k := range append([]Key{current}, previous...) {
		name := "current key"
		if i > 0 {
			name = fmt.Sprintf("previous key %d", i)
		}
		if !k.set() {
			return nil, fmt.Errorf("seal: %s is not set", name)
		}
		id := k.id()
		if other, dup := seen[id]; dup {
			return nil, fmt.Errorf("seal: %s is the same key as the %s", name, other)
		}
		seen[id] = name
		block, err := aes.NewCipher(k.bytes()[:])
		if err != nil {
			return nil, fmt.Errorf("seal: %s: %w", name, err) // unreachable: the length is fixed
		}
		r.keys = append(r.keys, &ringKey{id: id, block: block, macs: newMACPool(k.macKey())})
	}
	return r, nil
}

// RejectLegacy returns a copy of r whose Open refuses rows without a MAC.
// Legacy rows are not bound to their identity and CBC lets anyone who can
// write the table alter them undetectably (and strip the MAC from a new row to
// make it "legacy"), so once every row has been sealed again the service
// should run with this.
func (r *Ring) RejectLegacy() *Ring {
	c := *r
	c.rejectLegacy = true
	return &c
}

// withRand returns a copy of r that takes IVs from rd: tests use it to make
// Seal deterministic.
func (r *Ring) withRand(rd io.Reader) *Ring {
	c := *r
	c.rand = rd
	return &c
}

// CurrentKeyID is the key id that Seal writes into the key_id column.
func (r *Ring) CurrentKeyID() string { return r.keys[0].id }

// NeedsReseal reports whether s should be opened and sealed again: it is a
// legacy row, or it was not sealed with the current key and format. It only
// looks at the key id and version, so it says nothing about whether s opens.
func (r *Ring) NeedsReseal(s Sealed) bool {
	return s.KeyID != r.keys[0].id || !hasCurrentVersion(s.MAC)
}

func (r *Ring) lookup(keyID string) *ringKey {
	for _, k := range r.keys {
		if k.id == keyID {
			return k
		}
	}
	return nil
}

// String lists key ids, the only thing about a ring that is safe to show.
func (r *Ring) String() string {
	if r == nil || len(r.keys) == 0 {
		return "seal.Ring(empty)"
	}
	var b strings.Builder
	b.WriteString("seal.Ring(current=" + r.keys[0].id)
	for i, k := range r.keys[1:] {
		if i == 0 {
			b.WriteString(" previous=")
		} else {
			b.WriteString(",")
		}
		b.WriteString(k.id)
	}
	if r.rejectLegacy {
		b.WriteString(" reject_legacy")
	}
	b.WriteString(")")
	return b.String()
}

// GoString keeps %#v as safe as %v.
func (r *Ring) GoString() string { return r.String() }

// Format makes every fmt verb print String.
func (r *Ring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// LogValue logs the key ids, so operators can see which keys a process holds.
func (r *Ring) LogValue() slog.Value {
	if r == nil || len(r.keys) == 0 {
		return slog.StringValue("seal.Ring(empty)")
	}
	prev := make([]string, 0, len(r.keys)-1)
	for _, k := range r.keys[1:] {
		prev = append(prev, k.id)
	}
	return slog.GroupValue(
		slog.String("current_key_id", r.keys[0].id),
		slog.Any("previous_key_ids", prev),
		slog.Bool("reject_legacy", r.rejectLegacy),
	)
}
