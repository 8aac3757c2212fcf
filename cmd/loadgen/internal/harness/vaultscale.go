package harness

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
)

// `loadgen vault-scale` (make bench-vault-scale): the database work that grows with the vault. It
// seeds a vault of realistic rows into a fresh database at the schema before migration
// 8, EXPLAINs (ANALYZE, BUFFERS) the periodic, start-up and background statements of
// that version, migrates, EXPLAINs those of this version, measures the access-token
// cache-miss path over rows drawn from the whole vault, and runs the keep-alive over
// the offline rows against a fake Keycloak of fixed latency.

// VaultScaleConfig configures a scale run.
type VaultScaleConfig struct {
	AdminURL   string // PostgreSQL role with CREATEDB (DATABASE_URL of the stack)
	Rows       int    // rows to seed
	TokenBytes int    // plaintext size of a stored token (a Keycloak offline token is about 1 KB)
	// KeepAliveFor is how long each keep-alive configuration runs; Latency the fake
	// Keycloak's answer time; Rate the shared rate of the rate-limit run.
	KeepAliveFor time.Duration
	Latency      time.Duration
	Rate         int
	// MissCalls is how many access tokens the cache-miss step asks for at each
	// concurrency (0 skips it); MissLatency is its fake Keycloak's answer time.
	MissCalls   int
	MissLatency time.Duration
	MissOnly    bool      // seed, migrate and measure the cache-miss path only
	Keep        bool      // keep the database (its URL is printed)
	Log         io.Writer // progress lines
}

// VaultScaleResult is what a scale run measured.
type VaultScaleResult struct {
	Rows, Offline, Invalid, Legacy, StaleKey int
	SeedTime, MigrateTime                    time.Duration
	Sizes                                    []Size // before and after the migration
	Before, After                            []Plan
	KeepAlive                                []KeepAliveRun
	Miss                                     []MissRun
}

// Size is a relation's size on disk.
type Size struct {
	When, Name string
	Bytes      int64
}

// Shares of the seeded rows: 1 row in 10 OFFLINE (all idle for 2 to 30 days), and,
// among the others, 1 in 100 marked invalid 10 days ago, 1 in 100 sealed under a
// previous key, 1 in 100 legacy (no integrity tag).
const (
	seedOfflineEvery = 10
	oldKeyHex        = "1111111111111111111111111111111111111111111111111111111111111111"
	// CurrentKeyHex is the key the seeded vault is sealed under (the keep-alive opens
	// its rows with it).
	CurrentKeyHex = "2222222222222222222222222222222222222222222222222222222222222222"
)

// VaultScaleRing is the key ring of the seeded vault: the current key, and the previous key
// some rows are still sealed under.
func VaultScaleRing() (*seal.Ring, error) {
	cur, err := seal.ParseKey(CurrentKeyHex)
	if err != nil {
		return nil, err
	}
	old, err := seal.ParseKey(oldKeyHex)
	if err != nil {
		return nil, err
	}
	return seal.NewRing(cur, old)
}

// oldRing holds only the previous key.
func oldRing() (*seal.Ring, error) {
	old, err := seal.ParseKey(oldKeyHex)
	if err != nil {
		return nil, err
	}
	return seal.NewRing(old)
}

// seedVault COPYs n rows into auth_vault, sealed for real under ring (or the old key):
// random tokens of tokenBytes, so that the ciphertext (hex, stored out of line) is
// incompressible and of realistic size.
func seedVault(ctx context.Context, st *store.Store, n, tokenBytes int, res *VaultScaleResult) error {
	old, err := oldRing()
	if err != nil {
		return err
	}
	ring, err := VaultScaleRing()
	if err != nil {
		return err
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(time.Now().UnixNano()))
	rnd := rand.New(rand.NewChaCha8(seed))
	raw := make([]byte, tokenBytes*3/4)
	now := time.Now()
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		id, user := uuid.New(), uuid.New()
		for j := 0; j+8 <= len(raw); j += 8 {
			binary.LittleEndian.PutUint64(raw[j:], rnd.Uint64())
		}
		token := base64.RawURLEncoding.EncodeToString(raw)
		typ, status := store.Refresh, store.StatusActive
		created := now.Add(-time.Duration(rnd.Int64N(int64(60 * 24 * time.Hour))))
		updated := created
		lastUsed := now.Add(-time.Duration(rnd.Int64N(int64(48 * time.Hour))))
		r := ring
		legacy := false
		switch {
		case i%seedOfflineEvery == 0:
			typ = store.Offline
			lastUsed = now.Add(-2*24*time.Hour - time.Duration(rnd.Int64N(int64(28*24*time.Hour))))
			res.Offline++
		case i%100 == 1:
			status, updated = store.StatusInvalid, now.Add(-10*24*time.Hour)
			res.Invalid++
		case i%100 == 2:
			r = old
			res.StaleKey++
		case i%100 == 3:
			r, legacy = old, true
			res.Legacy++
		}
		s, err := r.Seal([]byte(token), seal.Identity{RowID: id.String(), UserID: user.String(), TokenType: string(typ)})
		if err != nil {
			return nil, err
		}
		var mac, keyID any = s.MAC, s.KeyID
		if legacy {
			mac, keyID = nil, nil
		}
		return []any{id, user, string(typ), s.Ciphertext, s.IV, seal.Hash([]byte(token)), mac, keyID,
			"sid-" + id.String()[:18], created, updated, string(status), lastUsed}, nil
	})
	_, err = st.Pool().CopyFrom(ctx, pgx.Identifier{"auth_vault"}, []string{"id", "user_id", "token_type",
		"encrypted_token", "iv", "token_hash", "mac", "key_id", "session_state_id", "created_at", "updated_at", "status",
		"last_used_at"}, src)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	res.Rows = n
	return nil
}

// sizes records the size of auth_vault's parts and indexes.
func sizes(ctx context.Context, st *store.Store, when string) ([]Size, error) {
	rows, err := st.Pool().Query(ctx, `
SELECT 'table (main)', pg_relation_size('auth_vault')
UNION ALL SELECT 'table (TOAST: the ciphertext)', pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'auth_vault'::regclass
UNION ALL (SELECT i.indexrelid::regclass::text, pg_relation_size(i.indexrelid) FROM pg_index i WHERE i.indrelid = 'auth_vault'::regclass ORDER BY 1)`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Size, error) {
		s := Size{When: when}
		return s, r.Scan(&s.Name, &s.Bytes)
	})
}
