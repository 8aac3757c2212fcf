package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
)

// accessPurpose is the token type an access token minted from a row is sealed under:
// its ciphertext never opens as the row's refresh or offline token (REFRESH,
// OFFLINE), nor theirs as an access token.
const accessPurpose = "ACCESS"

func accessIdentity(row Meta) seal.Identity {
	return seal.Identity{RowID: row.ID, UserID: row.UserID, TokenType: accessPurpose}
}

// Minted returns the metadata of row id if c may see it (ErrNotFound otherwise) and,
// when the database holds an access token minted from the row that will live longer
// than minTTL, that token (Refreshed.Stored): every replica serves the same token for
// its lifetime without asking Keycloak. One query, which does not read the row's own
// sealed token.
func (s *Service) Minted(ctx context.Context, c caller.Caller, id string, minTTL time.Duration) (Refreshed, error) {
	m, a, err := s.st.GetWithAccess(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Refreshed{}, ErrNotFound
	}
	if err != nil {
		return Refreshed{}, err
	}
	if !c.CanActFor(m.UserID) {
		return Refreshed{}, ErrNotFound
	}
	ts, ok := s.openMinted(ctx, m, a, minTTL)
	return Refreshed{Meta: m, Tokens: ts, Stored: ok}, nil
}

// openMinted opens the access token stored for row when the row is active and the
// token will live longer than minTTL; ok is false otherwise, and for a stored token
// that does not open (a key no longer in the ring, or tampering: the caller refreshes
// and overwrites it).
func (s *Service) openMinted(ctx context.Context, row Meta, a *store.Access, minTTL time.Duration) (keycloak.TokenSet, bool) {
	if a == nil || row.Status != store.StatusActive || a.ExpiresAt.Sub(s.opt.Now()) <= minTTL {
		return keycloak.TokenSet{}, false
	}
	// A MAC-less ciphertext would be opened as a legacy row, bound to nothing: the
	// table's constraints forbid one, and it is refused here too.
	if a.MAC == "" || a.KeyID == "" {
		return keycloak.TokenSet{}, false
	}
	pt, err := s.ring.Open(seal.Sealed{Ciphertext: a.EncryptedToken, IV: a.IV, MAC: a.MAC, KeyID: a.KeyID}, accessIdentity(row))
	if err != nil {
		s.opt.Log.WarnContext(ctx, "vault: stored access token does not open; refreshing instead", "row_id", row.ID, "key_id", a.KeyID)
		return keycloak.TokenSet{}, false
	}
	return keycloak.TokenSet{AccessToken: string(pt), TokenType: a.TokenType, Scope: a.Scope, Expiry: a.ExpiresAt}, true
}

// sealMinted seals the access token of ts for row under the access purpose.
func (s *Service) sealMinted(row Meta, ts keycloak.TokenSet) (*store.Access, error) {
	sealed, err := s.ring.Seal([]byte(ts.AccessToken), accessIdentity(row))
	if err != nil {
		return nil, err
	}
	return &store.Access{EncryptedToken: sealed.Ciphertext, IV: sealed.IV, MAC: sealed.MAC, KeyID: sealed.KeyID,
		TokenType: ts.TokenType, Scope: ts.Scope, ExpiresAt: ts.Expiry}, nil
}

// acquire takes one of the slots that bound the refreshes this replica presents to
// Keycloak at once (each holds a pooled connection across the call), waiting for one
// until ctx ends or SlotWait passes (ErrBusy); release gives it back.
func (s *Service) acquire(ctx context.Context) (release func(), err error) {
	if s.slots == nil {
		return func() {}, nil
	}
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	default:
	}
	var shed <-chan time.Time
	if s.opt.SlotWait > 0 {
		t := time.NewTimer(s.opt.SlotWait)
		defer t.Stop()
		shed = t.C
	}
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-shed:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("vault: waiting for one of %d refresh slots: %w", cap(s.slots), ctx.Err())
	}
}
