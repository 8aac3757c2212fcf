package vault

import (
	"context"

	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Resealer is the store's side of key rotation.
type Resealer interface {
	KeysInUse(ctx context.Context) ([]string, error)
	CountKey(ctx context.Context, keyID string, limit int) (int, error)
	ResealBatch(ctx context.Context, keyID, afterID string, limit int, skipLocked bool, fn func(store.Row) *store.Sealing) (last string, seen, written int, err error)
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
// and rows under previous keys), batch by batch, each batch in its own transaction,
// walking the rows of each stale key in id order. A legacy row is re-sealed only when
// its token passes the claims check, because the seal binds the token to the row's
// owner. Rotate is safe while the service runs, and any number of Rotate calls (on
// several hosts) share one rotation: a batch is locked with SKIP LOCKED, so rows a
// refresh or another rotation holds are passed over, and a re-sealed row leaves the
// walk, so no row is re-sealed twice. An interrupted run resumes where it stopped
// because it only ever selects rows that still need work. When passes that skip
// locked rows find nothing more to do, a last pass waits for the rows others hold, so
// that Remaining counts only rows no key opens.
func Rotate(ctx context.Context, st Resealer, ring *seal.Ring, opt RotateOptions) (RotationResult, error) {
	var res RotationResult
	stale, counts, err := staleKeys(ctx, st, ring.CurrentKeyID())
	if err != nil {
		return res, err
	}
	for _, n := range counts {
		res.Pending += n
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
	reseal := func(r store.Row) *store.Sealing {
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
	}
	for pass := 0; pass < 10; pass++ {
		written, err := rotatePass(ctx, st, stale, opt, true, reseal, &res, unusable)
		if err != nil {
			return res, err
		}
		if written == 0 {
			break
		}
	}
	if _, err := rotatePass(ctx, st, stale, opt, false, reseal, &res, unusable); err != nil {
		return res, err
	}
	_, counts, err = staleKeys(ctx, st, ring.CurrentKeyID())
	for _, n := range counts {
		res.Remaining += n
	}
	return res, err
}

// rotatePass walks the rows of every stale key once and returns how many it re-sealed.
func rotatePass(ctx context.Context, st Resealer, stale []string, opt RotateOptions, skipLocked bool,
	reseal func(store.Row) *store.Sealing, res *RotationResult, unusable map[string]bool) (int, error) {
	total := 0
	for _, k := range stale {
		cursor := ""
		for {
			last, seen, written, err := st.ResealBatch(ctx, k, cursor, max(opt.Batch, 1), skipLocked, reseal)
			if err != nil {
				return total, err
			}
			total += written
			res.Resealed += written
			res.Unusable = len(unusable)
			if opt.Progress != nil {
				opt.Progress(*res)
			}
			if seen == 0 {
				break
			}
			cursor = last
		}
	}
	return total, nil
}

// staleKeys returns the key ids other than current that seal rows ("" for legacy
// rows), in index order, and how many rows each seals.
func staleKeys(ctx context.Context, st Resealer, current string) ([]string, map[string]int, error) {
	keys, err := st.KeysInUse(ctx)
	if err != nil {
		return nil, nil, err
	}
	var stale []string
	counts := map[string]int{}
	for _, k := range keys {
		if k == current {
			continue
		}
		if counts[k], err = st.CountKey(ctx, k, 0); err != nil {
			return nil, nil, err
		}
		stale = append(stale, k)
	}
	return stale, counts, nil
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
