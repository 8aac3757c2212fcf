package offline

import (
	"context"
	"fmt"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Reissue obtains a new offline token from the caller's OFFLINE row for its session
// (bound to it, or consented from it) and stores it as a new OFFLINE row of the same
// offline session, with attributes.from naming the source row.
//
// The source is refreshed through the vault's one refresh operation, like every other
// use of a stored token, and keeps its own token (re-sealed under the current key when
// it was not). A source Keycloak refuses for good (invalid_grant) is marked invalid.
func (s *Service) Reissue(ctx context.Context, c caller.Caller) (Stored, error) {
	st, from, err := s.reissue(ctx, c)
	e := audit.Event{Name: audit.OfflineTokenIssued, Subject: c.Subject, RowID: st.ID, SessionID: st.SessionID, Err: err}
	if from != "" {
		e.Detail = "from " + from
	}
	s.opt.Audit.Record(ctx, e)
	return st, err
}

// reissue is Reissue without the audit event; it also returns the source row's id,
// once known.
func (s *Service) reissue(ctx context.Context, c caller.Caller) (Stored, string, error) {
	if c.SessionID == "" {
		return Stored{}, "", vault.ErrNoSession
	}
	src, err := s.vault.OfflineForSession(ctx, c.Subject, c.SessionID)
	if err != nil {
		return Stored{}, "", err
	}
	if s.rotating(ctx) {
		return Stored{}, src.ID, ErrRotationEnabled
	}
	if err := s.vault.Admits(ctx, src.UserID); err != nil {
		return Stored{}, src.ID, err
	}
	r, err := s.vault.Refresh(ctx, src.ID, func(ctx context.Context, token string) (keycloak.TokenSet, error) {
		return s.kc.Refresh(ctx, token, s.opt.Retries)
	}, vault.ReturnSuccessor)
	if err != nil {
		return Stored{}, src.ID, err
	}
	fresh := r.Tokens.RefreshToken
	// Not revoked when refused: an offline token of this session is revoked by ending
	// the session, which the source row still needs.
	claims, err := peek(fresh)
	if err != nil || claims.Type != "Offline" || claims.Subject != src.UserID {
		return Stored{}, src.ID, fmt.Errorf("%w: refreshing the stored offline token", ErrNotOffline)
	}
	sid := claims.SessionID
	if sid == "" {
		sid = src.SessionID
	}
	row, err := s.vault.StoreOffline(ctx, src.UserID, sid, fresh, map[string]any{"from": src.ID})
	if err != nil {
		return Stored{}, src.ID, err
	}
	return Stored{ID: row.ID, SessionID: row.SessionID}, src.ID, nil
}
