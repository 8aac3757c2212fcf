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
	legacyReader
}

// legacyReader pages through the rows without an integrity tag.
type legacyReader interface {
	LegacyRows(ctx context.Context, afterID string, limit int) ([]store.Row, error)
}

// RotateOptions configures a rotation.
type RotateOptions struct {
	Batch             int  // rows per transaction
	DryRun            bool // count, change nothing
	TrustOpaqueLegacy bool // as Options.TrustOpaqueLegacy
	// Progress is called after every batch (may be nil).
	Progress func(RotationResult)
}

// RotationResult counts what a rotation did.
type RotationResult struct {
	Pending   int // rows not under the current key before the run (dry run: what would be done)
	Resealed  int // rows now sealed under the current key
	Unusable  int // rows that could not be opened, or legacy rows failing the claims check (left as they are)
	Remaining int // rows still not under the current key after the run
	// Legacy counts the rows without an integrity tag before the run, and
	// LegacyMismatch those of them whose token fails the claims check (its sub is not
	// the row's user, its typ not the row's type, or it is not a JWT and opaque legacy
	// tokens are not trusted): they are never re-sealed.
	Legacy, LegacyMismatch int
	// UnusableIDs names the first 100 unusable rows, for the operator.
	UnusableIDs []string
}

// Rotate re-seals every row that is not sealed under the current key (legacy rows
// and rows under previous keys), batch by batch, each batch in its own transaction.
// A legacy row is re-sealed only when its token passes the claims check, because the
// seal binds the token to the row's owner. Rotate is safe while the service runs:
// rows locked by a refresh in flight are skipped and picked up by a later pass, and an
// interrupted run resumes where it stopped because it only ever selects rows that
// still need work.
func Rotate(ctx context.Context, st Resealer, ring *seal.Ring, opt RotateOptions) (RotationResult, error) {
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
	res.Legacy = counts[""]
	if res.Legacy > 0 {
		if res.LegacyMismatch, err = countLegacyMismatches(ctx, st, ring, opt); err != nil {
			return res, err
		}
	}
	if opt.DryRun || res.Pending == 0 {
		res.Remaining = res.Pending
		return res, nil
	}
	unusable := map[string]bool{}
	markUnusable := func(id string) {
		if !unusable[id] && len(res.UnusableIDs) < 100 {
			res.UnusableIDs = append(res.UnusableIDs, id)
		}
		unusable[id] = true
	}
	for pass := 0; pass < 10; pass++ {
		resealedThisPass := 0
		cursor := ""
		for {
			last, seen, written, err := st.ResealBatch(ctx, cursor, ring.CurrentKeyID(), opt.Batch, func(r store.Row) *store.Sealing {
				pt, err := openForRotation(ring, r, opt.TrustOpaqueLegacy)
				if err != nil {
					markUnusable(r.ID)
					return nil
				}
				s, err := ring.Seal(pt, identity(r.ID, r.UserID, r.Type))
				if err != nil {
					markUnusable(r.ID)
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
			if opt.Progress != nil {
				opt.Progress(res)
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

// openForRotation opens r, holding a legacy row to the claims check.
func openForRotation(ring *seal.Ring, r store.Row, trustOpaque bool) ([]byte, error) {
	pt, err := ring.Open(sealedOf(r), identity(r.ID, r.UserID, r.Type))
	if err != nil {
		return nil, err
	}
	if r.MAC == "" && legacyMismatch(r.Meta, string(pt), trustOpaque) != "" {
		return nil, ErrUnusable
	}
	return pt, nil
}

// countLegacyMismatches reads every legacy row (without locking it) and counts those
// that fail the claims check or cannot be opened at all.
func countLegacyMismatches(ctx context.Context, st legacyReader, ring *seal.Ring, opt RotateOptions) (int, error) {
	n, cursor := 0, ""
	for {
		rows, err := st.LegacyRows(ctx, cursor, max(opt.Batch, 1))
		if err != nil || len(rows) == 0 {
			return n, err
		}
		for _, r := range rows {
			if _, err := openForRotation(ring, r, opt.TrustOpaqueLegacy); err != nil {
				n++
			}
			cursor = r.ID
		}
	}
}
