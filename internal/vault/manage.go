package vault

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Meta is what a listing shows of a row: never the token, never ciphertext.
type Meta struct {
	ID         string
	Type       store.TokenType
	SessionID  string
	Attributes map[string]any
	CreatedAt  time.Time
	UpdatedAt  *time.Time
	Status     store.Status // active, or invalid once Keycloak refused the token for good
	LastError  string       // Keycloak's reason for an invalid row
}

// List returns the metadata of the caller's rows, or of userID's for a service caller.
func (s *Service) List(ctx context.Context, c caller.Caller, userID string) ([]Meta, error) {
	uid, err := subject(c, userID)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.ListByUser(ctx, uid)
	if err != nil {
		return nil, err
	}
	out := make([]Meta, 0, len(rows))
	for _, r := range rows {
		out = append(out, Meta{ID: r.ID, Type: r.Type, SessionID: r.SessionID, Attributes: r.Attributes,
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Status: r.Status, LastError: r.LastError})
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
	row, err := s.Lookup(ctx, c, id)
	if err != nil {
		return Deletion{}, err
	}
	shared, err := s.sharesSession(ctx, row)
	if err != nil {
		return Deletion{}, err
	}
	d := Deletion{ID: row.ID, HadSharedSession: shared}
	var notes []string
	if !shared {
		token, err := s.Open(row)
		switch {
		case err != nil:
			notes = append(notes, "stored token was unusable, nothing to revoke")
		default:
			err = s.kc.Revoke(ctx, token, "refresh_token")
			switch {
			case err == nil:
				d.SessionRevoked = true
			case errors.Is(err, keycloak.ErrUnavailable):
				s.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenRevoked, Subject: row.UserID, RowID: row.ID,
					SessionID: row.SessionID, Outcome: audit.Failed, ErrorCode: audit.CodeOf(err)})
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
		s.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenRevoked, Subject: row.UserID, RowID: row.ID, SessionID: row.SessionID})
	}
	if _, err := s.st.Delete(ctx, row.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenDeleted, Subject: row.UserID, RowID: row.ID,
			SessionID: row.SessionID, Outcome: audit.Failed, ErrorCode: audit.CodeOf(err)})
		return Deletion{}, err
	}
	s.opt.Audit.Record(ctx, audit.Event{Name: audit.TokenDeleted, Subject: row.UserID, RowID: row.ID, SessionID: row.SessionID})
	d.TokenDeleted = true
	d.Message = "Token deleted"
	if len(notes) > 0 {
		d.Message += "; " + strings.Join(notes, "; ")
	}
	return d, nil
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
