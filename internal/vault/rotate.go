package vault

import (
	"context"

	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Resealer is the store's side of key rotation.
type Resealer interface {
	ResealBatch(ctx context.Context, afterID, keyID string, limit int, fn func(store.Row) *store.Sealing) (last string, seen, written int, err error)
	CountByKey(ctx context.Context) (map[string]int, error)
}

// RotationResult counts what a rotation did.
type RotationResult struct {
	Pending   int // rows not under the current key before the run (dry run: what would be done)
	Resealed  int // rows now sealed under the current key
	Unusable  int // rows that could not be opened (left as they are; see the log for ids)
	Remaining int // rows still not under the current key after the run
	// UnusableIDs names the first 100 unusable rows, for the operator.
	UnusableIDs []string
}

// Rotate re-seals every row that is not sealed under the current key (legacy rows
// and rows under previous keys), batch by batch, each batch in its own transaction.
// It is safe while the service runs: rows locked by a refresh in flight are skipped
// and picked up by a later pass, and an interrupted run resumes where it stopped
// because it only ever selects rows that still need work. progress is called after
// every batch.
func Rotate(ctx context.Context, st Resealer, ring *seal.Ring, batch int, dryRun bool, progress func(RotationResult)) (RotationResult, error) {
	var res RotationResult
	counts, err := st.CountByKey(ctx)
	if err != nil {
		return res, err
	}
	for k, n := range counts {
		if k != ring.CurrentKeyID() {
			res.Pending += n
		}
	}
	if dryRun || res.Pending == 0 {
		res.Remaining = res.Pending
		return res, nil
	}
	unusable := map[string]bool{}
	for pass := 0; pass < 10; pass++ {
		resealedThisPass := 0
		cursor := ""
		for {
			last, seen, written, err := st.ResealBatch(ctx, cursor, ring.CurrentKeyID(), batch, func(r store.Row) *store.Sealing {
				id := seal.Identity{RowID: r.ID, UserID: r.UserID, TokenType: string(r.Type)}
				pt, err := ring.Open(seal.Sealed{Ciphertext: r.EncryptedToken, IV: r.IV, MAC: r.MAC, KeyID: r.KeyID}, id)
				if err != nil {
					if !unusable[r.ID] && len(res.UnusableIDs) < 100 {
						res.UnusableIDs = append(res.UnusableIDs, r.ID)
					}
					unusable[r.ID] = true
					return nil
				}
				s, err := ring.Seal(pt, id)
				if err != nil {
					unusable[r.ID] = true
					return nil
				}
				return &store.Sealing{EncryptedToken: s.Ciphertext, IV: s.IV, MAC: s.MAC, KeyID: s.KeyID}
			})
			if err != nil {
				return res, err
			}
			res.Resealed += written
			resealedThisPass += written
			res.Unusable = len(unusable)
			if progress != nil {
				progress(res)
			}
			if seen == 0 {
				break
			}
			cursor = last
		}
		if resealedThisPass == 0 {
			break
		}
	}
	counts, err = st.CountByKey(ctx)
	if err != nil {
		return res, err
	}
	for k, n := range counts {
		if k != ring.CurrentKeyID() {
			res.Remaining += n
		}
	}
	return res, nil
}
