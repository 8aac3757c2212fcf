package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// BenchmarkRefreshTransaction is what the database costs one refresh besides Keycloak's
// answer, in the two shapes a refresh can take across replicas:
//
//   - lock: one transaction holds the row lock across the Keycloak call (BEGIN, the
//     lock and the reads of the access token and failure run in one round trip; the
//     row's rewrite, the access token's upsert and COMMIT in another);
//   - lease: a claim committed on its own before the call (here an UPDATE of the row,
//     what a lease column costs), then the write-back in a transaction of its own;
//     no connection is held during the call, at the price of one more commit.
//
// Sealed values are random hex (ciphertext does not compress) of the sizes of the dev
// realm's refresh and access tokens (662 and 1421 bytes: 1344 and 2848 characters).
//
//	go test -run '^$' -bench RefreshTransaction -benchtime 3s ./internal/store
func BenchmarkRefreshTransaction(b *testing.B) {
	st := testenv.MigratedStore(b, 4)
	ctx := context.Background()
	row, err := st.Create(ctx, store.Row{
		Meta:    store.Meta{ID: store.NewID(), UserID: uuid.NewString(), Type: store.Refresh, SessionID: "bench"},
		Sealing: store.Sealing{EncryptedToken: randomHex(1344), IV: strings.Repeat("0", 32), TokenHash: strings.Repeat("1", 64), MAC: strings.Repeat("2", 66), KeyID: "k"},
	})
	testenv.Must(b, err, "create row")
	access := &store.Access{EncryptedToken: randomHex(2848), IV: strings.Repeat("0", 32), MAC: strings.Repeat("3", 66),
		KeyID: "k", TokenType: "Bearer", Scope: "openid profile email", ExpiresAt: time.Now().Add(5 * time.Minute)}
	rewrite := func(ctx context.Context, cur store.Row, _ *store.Access) (store.Change, error) {
		now := time.Now()
		cur.LastUsedAt = &now
		return store.Change{Row: cur, Access: access}, nil
	}
	b.Run("lock", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Update(ctx, row.ID, rewrite); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lease", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Pool().Exec(ctx, `UPDATE auth_vault SET updated_at = now() WHERE id = $1`, row.ID); err != nil {
				b.Fatal(err)
			}
			if _, err := st.Update(ctx, row.ID, rewrite); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// randomHex is n characters of random hex.
func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
