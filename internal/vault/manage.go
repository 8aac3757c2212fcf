package vault

import (
	"context"
	"errors"
	"strings"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
)

// List returns the metadata of the caller's rows, or of userID's for a service caller,
// with each row's expiry forecast.
func (s *Service) List(ctx context.Context, c caller.Caller, userID string) ([]Meta, error) {
	uid, ok := c.Whose(userID)
	if !ok {
		return nil, ErrForbidden
	}
	out, err := s.st.ListByUser(ctx, uid)
	if err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]string, 0, len(out))
	for _, m := range out {
		ids = append(ids, m.ID)
	}
	fs, err := s.st.Forecasts(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, m := range out {
		if f, ok := fs[m.ID]; ok {
			out[i].ExpiresAt, out[i].ExpiresBasis = f.ExpiresAt, f.Basis
		}
	}
	return out, nil
}

// Deletion reports truthfully what a delete did.
type Deletion struct {
	ID               string
	TokenDeleted     bool
	SessionRevoked   bool // the token was revoked at Keycloak, ending its client session
	HadSharedSession bool // another stored row uses the same Keycloak session, so it was left alone
	Message          string
}

// Delete revokes the row's token at Keycloak, then deletes the row. When another
// stored row shares the Keycloak session the token is not revoked (revocation would end
// the session for that row too); the row is deleted either way. If Keycloak cannot be
// reached the row stays and the error is returned, so nothing is left half-done; a row
// whose token cannot be opened is deleted without revocation.
func (s *Service) Delete(ctx context.Context, c caller.Caller, id string) (Deletion, error) {
	row, err := s.lookup(ctx, c, id)
	if err != nil {
		return Deletion{}, err
	}
	shared, err := s.sharesSession(ctx, row)
	if err != nil {
		return Deletion{}, err
	}
	d := Deletion{ID: row.ID, HadSharedSession: shared}
	ev := eventOf(row.Meta)
	var notes []string
	if !shared {
		token, err := s.open(ctx, row)
		switch {
		case err != nil:
			notes = append(notes, "stored token was unusable, nothing to revoke")
		default:
			err = s.kc.Revoke(ctx, token, "refresh_token")
			switch {
			case err == nil:
				d.SessionRevoked = true
			case errors.Is(err, keycloak.ErrUnavailable):
				s.record(ctx, ev, audit.TokenRevoked, err)
				return Deletion{}, err
			default:
				notes = append(notes, "Keycloak refused the revocation")
				s.opt.Log.WarnContext(ctx, "vault: revocation refused; deleting the row anyway", "row_id", row.ID, "error", err.Error())
			}
		}
	} else {
		notes = append(notes, "session shared with another stored token was kept")
	}
	if d.SessionRevoked {
		s.record(ctx, ev, audit.TokenRevoked, nil)
		// Revoking a refresh token removed the service's client from the online session:
		// callers' tokens of that client and session stop working. (An offline token's
		// revocation leaves the online session of the same id alone.) Unrecorded, the row
		// stays and the error is returned: a repeated call revokes again (Keycloak
		// answers 200 for a token it no longer has) and records it.
		if row.Type == Refresh && s.opt.Ended != nil {
			if err := s.opt.Ended.EndSession(ctx, row.SessionID, s.opt.ClientID); err != nil {
				return Deletion{}, err
			}
		}
	}
	why := store.Why{Event: store.EventTokenDeleted, Cause: CauseOf(c), Details: map[string]any{"revoked": d.SessionRevoked}}
	if _, err := s.st.Delete(ctx, row.ID, why); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.record(ctx, ev, audit.TokenDeleted, err)
		return Deletion{}, err
	}
	s.record(ctx, ev, audit.TokenDeleted, nil)
	d.TokenDeleted = true
	d.Message = "Token deleted"
	if len(notes) > 0 {
		d.Message += "; " + strings.Join(notes, "; ")
	}
	return d, nil
}

// Taken is a row deleted by Take, with its token when it could be opened.
type Taken struct {
	Meta
	Token string // "" when the stored token could not be opened
}

// Take deletes the caller's row id of type t and returns its plaintext token, once,
// so that the caller can revoke it at Keycloak: nothing in the vault can mint tokens
// from it any more, whatever happens next. A row of another type is ErrNotFound.
func (s *Service) Take(ctx context.Context, c caller.Caller, id string, t TokenType) (Taken, error) {
	row, err := s.lookup(ctx, c, id)
	if err != nil {
		return Taken{}, err
	}
	if row.Type != t {
		return Taken{}, ErrNotFound
	}
	token, _ := s.open(ctx, row)
	why := store.Why{Event: store.EventTokenDeleted, Cause: CauseOf(c)}
	if _, err := s.st.Delete(ctx, row.ID, why); errors.Is(err, store.ErrNotFound) {
		return Taken{}, ErrNotFound // a concurrent delete won
	} else if err != nil {
		return Taken{}, err
	}
	s.record(ctx, eventOf(row.Meta), audit.TokenDeleted, nil)
	return Taken{Meta: row.Meta, Token: token}, nil
}

// Revoke presents a token that Take returned to Keycloak's revocation endpoint and
// records token_revoked. Revoking an offline token detaches the service's client from
// its offline session (and from the online session of the same id).
func (s *Service) Revoke(ctx context.Context, t Taken) error {
	err := s.kc.Revoke(ctx, t.Token, "refresh_token")
	s.record(ctx, eventOf(t.Meta), audit.TokenRevoked, err)
	return err
}

// SessionEnded records session_revoked for row's Keycloak session, which the caller
// tried to end through the admin API with the outcome err.
func (s *Service) SessionEnded(ctx context.Context, row Meta, err error) {
	s.record(ctx, eventOf(row), audit.SessionRevoked, err)
}

func eventOf(row Meta) audit.Event {
	return audit.Event{Subject: row.UserID, RowID: row.ID, SessionID: row.SessionID}
}

// record writes the audit event name about e's row: the vault's one place for token
// events. Keycloak's not-found (a session or token it no longer had) is no failure.
func (s *Service) record(ctx context.Context, e audit.Event, name string, err error) {
	e.Name = name
	if !errors.Is(err, keycloak.ErrNotFound) {
		e.Err = err
	}
	s.opt.Audit.Record(ctx, e)
}

// sharesSession reports whether another row is bound to row's Keycloak session.
func (s *Service) sharesSession(ctx context.Context, row store.Row) (bool, error) {
	rows, err := s.st.ListBySession(ctx, row.SessionID)
	if err != nil {
		return false, err
	}
	for _, r := range rows {
		if r.ID != row.ID {
			return true, nil
		}
	}
	return false, nil
}

// The queries below answer for the system (sessions, the keep-alive job), which has
// resolved whose data it is about already: they check no caller.

// BySession returns the newest row of type t bound to Keycloak session sid.
func (s *Service) BySession(ctx context.Context, sid string, t TokenType) (Meta, error) {
	return found(s.st.GetBySession(ctx, sid, t))
}

// OfflineForSession returns userID's OFFLINE row bound to, or consented from, session sid.
func (s *Service) OfflineForSession(ctx context.Context, userID, sid string) (Meta, error) {
	return found(s.st.OfflineForSession(ctx, userID, sid))
}

// ListByUser returns every row of userID, oldest first.
func (s *Service) ListByUser(ctx context.Context, userID string) ([]Meta, error) {
	return s.st.ListByUser(ctx, userID)
}

// ListBySession returns every row bound to Keycloak session sid.
func (s *Service) ListBySession(ctx context.Context, sid string) ([]Meta, error) {
	return s.st.ListBySession(ctx, sid)
}

// Ending says why the rows of a session go: the event cause (store.CauseUser,
// CauseService, CauseBackchannelLogout) and a short note for the audit trail and the
// event's details.
type Ending struct {
	Cause  string
	Reason string
}

// The three deletes below are for rows whose Keycloak session ended: each appends
// session.ended and records token_deleted, with the ending's reason as its detail,
// for every row it deleted.

// DeleteBySession deletes userID's rows of the given types bound to session sid.
func (s *Service) DeleteBySession(ctx context.Context, e Ending, sid, userID string, types ...TokenType) ([]Meta, error) {
	return s.ended(ctx, e)(s.st.DeleteBySession(ctx, sid, userID, e.why(), types...))
}

// DeleteByUser deletes userID's rows of the given types.
func (s *Service) DeleteByUser(ctx context.Context, e Ending, userID string, types ...TokenType) ([]Meta, error) {
	return s.ended(ctx, e)(s.st.DeleteByUser(ctx, userID, e.why(), types...))
}

// DeleteRows deletes the rows ids that are still bound to session sid.
func (s *Service) DeleteRows(ctx context.Context, e Ending, sid string, ids []string) ([]Meta, error) {
	return s.ended(ctx, e)(s.st.DeleteRows(ctx, sid, ids, e.why()))
}

func (e Ending) why() store.Why {
	return store.Why{Event: store.EventSessionEnded, Cause: e.Cause, Details: map[string]any{"reason": e.Reason}}
}

// ended returns what records token_deleted (detail: the ending's reason) for rows
// deleted because their session ended, and hands them on as metadata.
func (s *Service) ended(ctx context.Context, end Ending) func([]Meta, error) ([]Meta, error) {
	return func(out []Meta, err error) ([]Meta, error) {
		for _, r := range out {
			e := eventOf(r)
			e.Detail = end.Reason
			s.record(ctx, e, audit.TokenDeleted, nil)
		}
		return out, err
	}
}

// found maps the store's not-found onto the vault's.
func found(m Meta, err error) (Meta, error) {
	if errors.Is(err, store.ErrNotFound) {
		return Meta{}, ErrNotFound
	}
	return m, err
}
