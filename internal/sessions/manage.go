package sessions

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// List returns the Keycloak sessions of the caller, or of userID for a service
// caller: online ones, then offline ones of the service's client, each with the ids
// of the stored tokens bound to it (refresh tokens to online sessions, offline tokens
// to offline ones).
func (s *Service) List(ctx context.Context, c caller.Caller, userID string) ([]Session, error) {
	uid, ok := c.Whose(userID)
	if !ok {
		return nil, vault.ErrForbidden
	}
	online, offline, err := s.sessionsOf(ctx, uid)
	if err != nil {
		return nil, err
	}
	rows, err := s.vault.ListByUser(ctx, uid)
	if err != nil {
		return nil, err
	}
	bound := map[string][]string{} // type + " " + session id → row ids, oldest first
	for _, r := range rows {
		k := string(r.Type) + " " + r.SessionID
		bound[k] = append(bound[k], r.ID)
	}
	out := make([]Session, 0, len(online)+len(offline))
	add := func(list []keycloak.Session, typ string) {
		for _, ks := range list {
			if c.Service && !s.visibleToService(ks, typ, bound) {
				continue
			}
			clients := make([]string, 0, len(ks.Clients))
			for _, id := range ks.Clients {
				clients = append(clients, id)
			}
			sort.Strings(clients)
			stored := bound[string(rowType(typ))+" "+ks.ID]
			if stored == nil {
				stored = []string{}
			}
			out = append(out, Session{ID: ks.ID, Type: typ, Start: time.UnixMilli(ks.Start).UTC(),
				LastAccess: time.UnixMilli(ks.LastAccess).UTC(), IPAddress: ks.IPAddress, Clients: clients,
				StoredTokenIDs: stored})
		}
	}
	add(online, Online)
	add(offline, Offline)
	return out, nil
}

// Revocation reports truthfully what a revocation did.
type Revocation struct {
	SessionID string
	// Revoked: no Keycloak session of that id (of the types asked for) is left, either
	// because this call ended it (Ended) or because it had ended already.
	Revoked       bool
	Ended         []string // the session types this call ended at Keycloak
	TokensDeleted int
	Message       string
}

// Revoke ends Keycloak session sid and then deletes the stored tokens bound to it. typ
// is Online, Offline or "" for both (Keycloak gives an offline session the id of the
// login it was created from, so one id can name two sessions). A user caller may only
// end a session Keycloak lists as theirs, or clean up their own stored tokens bound to
// a session that has already ended; anything else is ErrNotFound. A service caller may
// end a session of the service's client or one with stored tokens (see scope.go), and
// then only as the session of the user Keycloak lists it for: the admin API is never
// called on a session id alone.
//
// When Keycloak cannot end the session nothing is deleted and the error is returned.
// Once the session has ended, a failure to delete the rows is reported in the answer,
// not as an error: the rows are dead and a repeated call deletes them.
func (s *Service) Revoke(ctx context.Context, c caller.Caller, sid, typ string) (Revocation, error) {
	types := []string{Online, Offline}
	if typ != "" {
		types = []string{typ}
	}
	// Only what Keycloak lists as the owner's session is ended with the service's
	// admin rights.
	owner, targets, err := c.Subject, []string(nil), error(nil)
	if c.Service {
		owner, targets, err = s.serviceOwner(ctx, sid, types)
	} else {
		targets, err = s.ownSessions(ctx, owner, sid, types)
	}
	if err != nil {
		return Revocation{}, err
	}

	// Ending the session is the part that must not be abandoned half-way.
	kctx, cancel := s.detached(ctx)
	defer cancel()
	if len(targets) > 0 {
		// The end is recorded before Keycloak is asked: a failure to record it changes
		// nothing, and once Keycloak has ended the session a repeated call would find
		// nothing left to record. Should Keycloak fail next, the session's tokens are
		// refused here anyway, which is what the caller asked for.
		if err := s.ended(kctx, sid); err != nil {
			return Revocation{}, err
		}
	}
	rev := Revocation{SessionID: sid}
	var notes []string
	deleteFailed := false
	for _, t := range targets {
		err := s.admin.DeleteSession(kctx, sid, t == Offline)
		ev := audit.Event{Name: audit.SessionRevoked, Subject: owner, SessionID: sid, Detail: t}
		switch {
		case err == nil:
			rev.Ended = append(rev.Ended, t)
		case errors.Is(err, keycloak.ErrNotFound):
			ev.Detail += ": already ended"
		default:
			ev.Err = err
			s.opt.Audit.Record(kctx, ev)
			if len(rev.Ended) > 0 {
				s.opt.Log.WarnContext(kctx, "sessions: ended part of a session, then Keycloak failed; nothing deleted",
					"session_id", sid, "ended", strings.Join(rev.Ended, ","), "error", err.Error())
			}
			return Revocation{}, err
		}
		s.opt.Audit.Record(kctx, ev)
	}

	rowTypes := make([]vault.TokenType, 0, 2)
	for _, t := range types {
		rowTypes = append(rowTypes, rowType(t))
	}
	if slices.Contains(rev.Ended, Offline) && !slices.Contains(types, Online) {
		// Keycloak ends the online session of the same id with an offline one.
		rowTypes = append(rowTypes, vault.Refresh)
		notes = append(notes, "Keycloak ended the online session of the same id with it")
	}
	rows, err := s.vault.DeleteBySession(kctx, vault.Ending{Cause: vault.CauseOf(c), Reason: "session revoked"}, sid, owner, rowTypes...)
	if err != nil {
		if len(rev.Ended) == 0 {
			return Revocation{}, err
		}
		s.opt.Log.WarnContext(kctx, "sessions: session ended but its stored tokens could not be deleted",
			"session_id", sid, "error", err.Error())
		deleteFailed = true
		notes = append(notes, "the stored tokens bound to it could not be deleted now (they no longer work; repeat the call to delete them)")
	}
	for _, r := range rows {
		s.cache.Evict(r.ID)
	}
	rev.TokensDeleted = len(rows)
	if c.Service && len(rev.Ended) == 0 && len(rows) == 0 && err == nil {
		return Revocation{}, ErrNotFound
	}
	rev.Revoked = true
	rev.Message = describeRevocation(rev, deleteFailed, notes)
	return rev, nil
}

// ownSessions returns which of types the user's session sid exists as at Keycloak. It
// is ErrNotFound when it exists as none of them and no stored token of the user is
// bound to it.
func (s *Service) ownSessions(ctx context.Context, userID, sid string, types []string) ([]string, error) {
	found, err := s.listedFor(ctx, userID, sid, types)
	if err != nil || len(found) > 0 {
		return found, err
	}
	rows, err := s.vault.ListBySession(ctx, sid)
	if err != nil {
		return nil, err
	}
	if storedFor(rows, userID, types) {
		return nil, nil // already ended at Keycloak: only the rows are left to delete
	}
	return nil, ErrNotFound
}

// listedFor is which of types Keycloak lists session sid as for userID.
func (s *Service) listedFor(ctx context.Context, userID, sid string, types []string) ([]string, error) {
	online, offline, err := s.sessionsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	var found []string
	has := func(list []keycloak.Session) bool {
		return slices.ContainsFunc(list, func(ks keycloak.Session) bool { return ks.ID == sid })
	}
	if slices.Contains(types, Online) && has(online) {
		found = append(found, Online)
	}
	if slices.Contains(types, Offline) && has(offline) {
		found = append(found, Offline)
	}
	return found, nil
}

// storedFor reports whether rows hold a token of userID of one of types.
func storedFor(rows []vault.Meta, userID string, types []string) bool {
	return slices.ContainsFunc(rows, func(r vault.Meta) bool {
		return r.UserID == userID && slices.ContainsFunc(types, func(t string) bool { return rowType(t) == r.Type })
	})
}

func describeRevocation(rev Revocation, deleteFailed bool, notes []string) string {
	msg := "Keycloak session had already ended"
	if len(rev.Ended) > 0 {
		msg = "Keycloak session ended (" + strings.Join(rev.Ended, ", ") + ")"
	}
	switch {
	case deleteFailed:
	case rev.TokensDeleted == 0:
		msg += "; no stored token was bound to it"
	case rev.TokensDeleted == 1:
		msg += "; 1 stored token deleted"
	default:
		msg += "; " + strconv.Itoa(rev.TokensDeleted) + " stored tokens deleted"
	}
	if len(notes) > 0 {
		msg += "; " + strings.Join(notes, "; ")
	}
	return msg
}
