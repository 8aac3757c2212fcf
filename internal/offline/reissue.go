package offline

import (
	"context"
	"errors"
	"fmt"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Reissue obtains a new offline token from the caller's OFFLINE row for its session
// (bound to it, or consented from it) and stores it as a new OFFLINE row of the same
// offline session, with attributes.from naming the source row.
//
// The source is refreshed under its row lock, like every other use of a stored token,
// and keeps its own token. A source Keycloak refuses for good (invalid_grant) is marked
// invalid, as the access-token path does.
func (s *Service) Reissue(ctx context.Context, c caller.Caller) (Stored, error) {
	st, from, err := s.reissue(ctx, c)
	e := audit.Event{Name: audit.OfflineTokenIssued, Subject: c.Subject, RowID: st.ID, SessionID: st.SessionID}
	if from != "" {
		e.Detail = "from " + from
	}
	if err != nil {
		e.Outcome, e.ErrorCode = audit.Failed, codeOf(err)
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
	src, err := s.st.OfflineForSession(ctx, c.Subject, c.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return Stored{}, "", vault.ErrNotFound
	}
	if err != nil {
		return Stored{}, "", err
	}
	var fresh string
	var permanent error
	_, err = s.st.Update(ctx, src.ID, func(ctx context.Context, cur store.Row) (store.Row, error) {
		if cur.Status == store.StatusInvalid {
			permanent = vault.Refusal(cur)
			return store.Row{}, store.ErrUnchanged
		}
		token, err := s.vault.Open(cur)
		if err != nil {
			return store.Row{}, err
		}
		ts, err := s.kc.Refresh(ctx, token, s.opt.Retries)
		if refused, ok := vault.MarkRefused(cur, err); ok {
			permanent = err
			return refused, nil
		}
		if err != nil {
			return store.Row{}, err
		}
		fresh = ts.RefreshToken
		now := s.opt.Now()
		cur.LastUsedAt = &now
		return cur, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Stored{}, src.ID, vault.ErrNotFound
	}
	if err != nil {
		return Stored{}, src.ID, err
	}
	if permanent != nil {
		return Stored{}, src.ID, permanent
	}
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
	row := store.Row{ID: store.NewID(), UserID: src.UserID, Type: store.Offline, SessionID: sid,
		Attributes: map[string]any{"from": src.ID}}
	if row, err = s.vault.Seal(row, fresh); err != nil {
		return Stored{}, src.ID, err
	}
	if row, err = s.st.Create(ctx, row); err != nil {
		return Stored{}, src.ID, err
	}
	return Stored{ID: row.ID, SessionID: row.SessionID}, src.ID, nil
}
