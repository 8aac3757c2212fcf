package offline

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Revoke deletes the OFFLINE row id (the caller's own, or any for a service caller;
// anything else is vault.ErrNotFound) and ends its Keycloak offline session, unless
// another stored OFFLINE row of the same user shares that session: then only the row
// goes, because an offline token cannot be revoked without ending the session for every
// token of it. The session is ended only when Keycloak lists it as the row owner's
// offline session; the answer speaks of the owner's rows only.
//
// The row is deleted first, so that nothing in the vault can mint tokens from it
// whatever Keycloak or the database does next. Then the token is revoked at the
// revocation endpoint, and the offline session ended through the admin API (which
// usually finds it gone already). The order matters: Keycloak 26 ends the online
// session of the same id too when the admin API ends an offline session, logging the
// user out of the browser the consent came from, whereas revoking the token only
// detaches this service's client from both sessions. A failure after the row is gone
// is not an error: the answer says truthfully what was and was not done.
func (s *Service) Revoke(ctx context.Context, c caller.Caller, id string) (vault.Deletion, error) {
	row, err := s.vault.Take(ctx, c, id, vault.Offline)
	if err != nil {
		return vault.Deletion{}, err
	}
	s.cache.Evict(row.ID)
	d := vault.Deletion{ID: row.ID, TokenDeleted: true, Message: "Offline token deleted"}
	// Looked at after the delete: of two rows of one session deleted at once, the
	// later delete sees the other gone and ends the session.
	others, err := s.vault.ListBySession(ctx, row.SessionID)
	if err != nil {
		s.opt.Log.WarnContext(ctx, "offline: shared-session check failed after the row was deleted", "row_id", row.ID, "error", err.Error())
		d.Message += "; the database could not say whether another stored token shares the session, so the Keycloak session was kept"
		return d, nil
	}
	var refreshRows []string
	for _, r := range others {
		switch {
		case r.ID == row.ID || r.UserID != row.UserID:
			// Only the owner's rows speak for the session: another user's row bound to
			// the same id says nothing about it, and is never named to this caller.
		case r.Type == vault.Offline:
			d.HadSharedSession = true
		default:
			refreshRows = append(refreshRows, r.ID)
		}
	}
	if d.HadSharedSession {
		d.Message += "; the Keycloak offline session is kept for the other stored offline token of it"
		return d, nil
	}

	ctx, cancel := s.detached(ctx)
	defer cancel()
	var notes []string
	revoked := false
	if row.Token == "" {
		notes = append(notes, "the stored token could not be opened, so it was not revoked itself")
	} else {
		err := s.vault.Revoke(ctx, row)
		if revoked = err == nil; !revoked {
			s.opt.Log.WarnContext(ctx, "offline: revoking the token failed after the row was deleted", "row_id", row.ID, "error", err.Error())
			notes = append(notes, "revoking the token at Keycloak failed ("+describe(err)+")")
		}
	}
	err = s.endOwnOfflineSession(ctx, row.UserID, row.SessionID)
	s.vault.SessionEnded(ctx, row.Meta, err)
	switch {
	case err == nil || errors.Is(err, keycloak.ErrNotFound):
		d.SessionRevoked = true
		d.Message += " and its Keycloak offline session ended"
	case revoked:
		s.opt.Log.WarnContext(ctx, "offline: ending the offline session failed after the row was deleted", "row_id", row.ID, "error", err.Error())
		d.Message += " and its token revoked at Keycloak"
		notes = append(notes, "the admin API failed ("+describe(err)+"), so the end of the offline session could not be confirmed")
	default:
		s.opt.Log.WarnContext(ctx, "offline: ending the offline session failed after the row was deleted", "row_id", row.ID, "error", err.Error())
		notes = append(notes, "ending the offline session failed too ("+describe(err)+"); it stays valid at Keycloak until it expires")
	}
	if len(refreshRows) > 0 && (d.SessionRevoked || revoked) {
		notes = append(notes, "the stored refresh token "+strings.Join(refreshRows, ", ")+" of the same Keycloak session can no longer be refreshed")
	}
	if len(notes) > 0 {
		d.Message += "; " + strings.Join(notes, "; ")
	}
	return d, nil
}

// endOwnOfflineSession ends offline session sid through the admin API only when
// Keycloak's own listing shows it as userID's offline session of this service's client:
// the row's session id is never enough to spend the service's admin rights on.
// keycloak.ErrNotFound when the user has no such session (it ended, or never was theirs).
func (s *Service) endOwnOfflineSession(ctx context.Context, userID, sid string) error {
	list, err := s.admin.OfflineSessions(ctx, userID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(list, func(ks keycloak.Session) bool { return ks.ID == sid && ks.UserID == userID }) {
		return keycloak.ErrNotFound
	}
	// Recorded before Keycloak is asked, as every end is: once Keycloak has ended the
	// session, nothing would be left to confirm it on a retry.
	if s.opt.Ended != nil {
		if err := s.opt.Ended.EndSession(ctx, sid, ""); err != nil {
			s.opt.Log.WarnContext(ctx, "offline: the session's end could not be recorded; other replicas learn of it from Keycloak only",
				"session_id", sid, "error", err.Error())
		}
	}
	return s.admin.DeleteSession(ctx, sid, true)
}

// describe names a Keycloak failure for a caller in the words of its envelope:
// Keycloak's error code, never more.
func describe(err error) string {
	switch p := problem.Of(err); {
	case p.Code == "keycloak_error":
		return "refused: " + p.Reason
	case p.Status == http.StatusServiceUnavailable:
		return "unavailable"
	}
	return "failed"
}
