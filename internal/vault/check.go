package vault

import (
	"context"
)

// KeyReport is what Check found in the vault table: counts only, never a token.
type KeyReport struct {
	Rows     int // rows in the vault
	Sampled  int // rows Check tried to open (the most recently written)
	Opened   int // sampled rows that the key ring opens
	Unusable int // sampled rows that it does not (unknown key, tampered, legacy refused)
	// Legacy counts every row without an integrity tag, and LegacyMismatch those of
	// them that cannot be used: they do not open, or their token fails the claims
	// check (see Refresh).
	Legacy, LegacyMismatch int
}

// Check reads the vault as `auth-manager doctor` needs it: whether the configured
// keys open a sample of up to sample rows, and how many legacy rows remain and would
// be refused. It changes nothing and locks nothing.
func (s *Service) Check(ctx context.Context, sample int) (KeyReport, error) {
	var rep KeyReport
	counts, err := s.st.CountByKey(ctx)
	if err != nil {
		return rep, err
	}
	for _, n := range counts {
		rep.Rows += n
	}
	rows, err := s.st.Sample(ctx, sample)
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
	rep.Legacy = counts[""]
	if rep.Legacy > 0 {
		rep.LegacyMismatch, err = countLegacyMismatches(ctx, s.st, s.ring, RotateOptions{Batch: 500, TrustOpaqueLegacy: s.opt.TrustOpaqueLegacy})
	}
	return rep, err
}
