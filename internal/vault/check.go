package vault

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/auth-manager/auth-manager/internal/store"
)

// checkStore is what Check reads: bounded work, whatever the table holds.
type checkStore interface {
	RowsByTypeStatus(ctx context.Context, exactBelow int64) ([]store.TypeStatusCount, bool, error)
	Sample(ctx context.Context, from string, n int, legacy bool) ([]store.Row, error)
	CountKey(ctx context.Context, keyID string, limit int) (int, error)
}

// LegacyCountCap bounds the legacy rows Check counts.
const LegacyCountCap = 10000

// KeyReport is what Check found in the vault table: counts only, never a token.
type KeyReport struct {
	// Rows is the number of rows in the vault: counted in a small table, PostgreSQL's
	// estimate in a large one (RowsExact false), -1 when there is no estimate yet.
	Rows      int
	RowsExact bool
	Sampled   int // rows Check tried to open (a random sample)
	Opened    int // sampled rows that the key ring opens
	Unusable  int // sampled rows that it does not (unknown key, tampered, legacy refused)
	// Legacy counts the rows without an integrity tag, up to LegacyCountCap
	// (LegacyMore: there are more). LegacySampled of them (a random sample) were opened
	// and LegacyMismatch of those cannot be used: they do not open, or their token
	// fails the claims check (see Refresh).
	Legacy         int
	LegacyMore     bool
	LegacySampled  int
	LegacyMismatch int
}

// Check reads the vault as `auth-manager doctor` needs it: whether the configured
// keys open a random sample of up to sample rows, and how many legacy rows remain and
// how many of a sample of them would be refused. Its cost is bounded by sample and
// LegacyCountCap, not by the table. It changes nothing and locks nothing.
func (s *Service) Check(ctx context.Context, sample int) (KeyReport, error) {
	var rep KeyReport
	counts, exact, err := s.st.RowsByTypeStatus(ctx, store.ExactBelowPages)
	switch {
	case errors.Is(err, store.ErrNoEstimate):
		rep.Rows = -1
	case err != nil:
		return rep, err
	}
	for _, c := range counts {
		rep.Rows += c.Count
	}
	rep.RowsExact = exact
	from := uuid.NewString()
	rows, err := s.st.Sample(ctx, from, sample, false)
	if err != nil {
		return rep, err
	}
	rep.Sampled = len(rows)
	for _, r := range rows {
		if _, err := s.ring.Open(sealedOf(r), identity(r.ID, r.UserID, r.Type)); err != nil {
			rep.Unusable++
		} else {
			rep.Opened++
		}
	}
	n, err := s.st.CountKey(ctx, "", LegacyCountCap+1)
	if err != nil || n == 0 {
		return rep, err
	}
	rep.Legacy, rep.LegacyMore = min(n, LegacyCountCap), n > LegacyCountCap
	legacy, err := s.st.Sample(ctx, from, sample, true)
	if err != nil {
		return rep, err
	}
	rep.LegacySampled = len(legacy)
	for _, r := range legacy {
		if _, err := openForRotation(s.ring, r, s.opt.TrustOpaqueLegacy); err != nil {
			rep.LegacyMismatch++
		}
	}
	return rep, nil
}
