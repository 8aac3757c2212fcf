package offline

import (
	"context"
	"errors"
	"strings"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Revoke deletes the OFFLINE row id (the caller's own, or any for a service caller;
// anything else is vault.ErrNotFound) and ends its Keycloak offline session, unless
// another stored OFFLINE row shares that session: then only the row goes, because an
// offline token cannot be revoked without ending the session for every token of it.
//
// The row is deleted first, so that nothing in the vault can mint tokens from it
// whatever Keycloak or the database does next. The session is ended through the admin
// API; should that fail, the token itself is revoked at the revocation endpoint, which
// removes the service's client from the session. A failure after the row is gone is
// not an error: the answer says truthfully what was and was not done.
func (s *Service) Revoke(ctx context.Context, c caller.Caller, id string) (vault.Deletion, error) {
	row, err := s.vault.Lookup(ctx, c, id)
	if err != nil {
		return vault.Deletion{}, err
	}
	if row.Type != store.Offline {
		return vault.Deletion{}, vault.ErrNotFound
	}
	token, openErr := s.vault.Open(row)
	if _, err := s.st.Delete(ctx, row.ID); errors.Is(err, store.ErrNotFound) {
		return vault.Deletion{}, vault.ErrNotFound // a concurrent delete won
	} else if err != nil {
		return vault.Deletion{}, err
	}
	s.cache.Evict(row.ID)
	ev := audit.Event{Subject: row.UserID, RowID: row.ID, SessionID: row.SessionID}
	s.record(ctx, ev, audit.TokenDeleted, nil)
	d := vault.Deletion{ID: row.ID, TokenDeleted: true, Message: "Offline token deleted"}
	// Looked at after the delete: of two rows of one session deleted at once, the
	// later delete sees the other gone and ends the session.
	shared, err := s.sharesSession(ctx, row)
	if err != nil {
		d.Message += "; the database could not say whether another stored token shares the session, so the Keycloak session was kept"
		s.opt.Log.WarnContext(ctx, "offline: shared-session check failed after the row was deleted", "row_id", row.ID, "error", err.Error())
		return d, nil
	}
	d.HadSharedSession = shared
	if shared {
		d.Message += "; the Keycloak offline session is kept for the other stored offline token of it"
		return d, nil
	}

	ctx, cancel := s.detached(ctx)
	defer cancel()
	err = s.admin.DeleteSession(ctx, row.SessionID, true)
	s.record(ctx, ev, audit.SessionRevoked, err)
	switch {
	case err == nil:
		d.SessionRevoked = true
		d.Message += " and its Keycloak offline session revoked"
		return d, nil
	case errors.Is(err, keycloak.ErrNotFound):
		d.SessionRevoked = true
		d.Message += "; its Keycloak offline session had already ended"
		return d, nil
	}
	s.opt.Log.WarnContext(ctx, "offline: ending the offline session failed after the row was deleted",
		"row_id", row.ID, "error", err.Error())
	notes := []string{"Keycloak could not end the offline session (" + describe(err) + ")"}
	switch {
	case openErr != nil:
		notes = append(notes, "the stored token was unusable, so it could not be revoked either")
	default:
		rerr := s.kc.Revoke(ctx, token, "refresh_token")
		s.record(ctx, ev, audit.TokenRevoked, rerr)
		if rerr != nil {
			s.opt.Log.WarnContext(ctx, "offline: revoking the token failed after the row was deleted",
				"row_id", row.ID, "error", rerr.Error())
			notes = append(notes, "revoking the token failed too ("+describe(rerr)+"); it stays valid at Keycloak until the offline session expires")
		} else {
			notes = append(notes, "the token was revoked at Keycloak instead")
		}
	}
	d.Message += "; " + strings.Join(notes, "; ")
	return d, nil
}

// record writes the audit event name about e's row; a session that had already ended
// counts as revoked.
func (s *Service) record(ctx context.Context, e audit.Event, name string, err error) {
	e.Name = name
	if err != nil && !errors.Is(err, keycloak.ErrNotFound) {
		e.Outcome, e.ErrorCode = audit.Failed, codeOf(err)
	}
	s.opt.Audit.Record(ctx, e)
}

// sharesSession reports whether another OFFLINE row is bound to row's session.
func (s *Service) sharesSession(ctx context.Context, row store.Row) (bool, error) {
	rows, err := s.st.ListBySession(ctx, row.SessionID)
	if err != nil {
		return false, err
	}
	for _, r := range rows {
		if r.ID != row.ID && r.Type == store.Offline {
			return true, nil
		}
	}
	return false, nil
}

// describe names a Keycloak failure for a caller: Keycloak's error code, never more.
func describe(err error) string {
	var ke *keycloak.Error
	switch {
	case errors.As(err, &ke) && ke.Status < 500:
		return "refused: " + ke.Code
	case errors.Is(err, keycloak.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return "unavailable"
	}
	return "failed"
}
