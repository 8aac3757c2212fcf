package sessions

import (
	"context"
	"slices"

	"github.com/auth-manager/auth-manager/internal/keycloak"
)

// A service caller acts for other users, but only within this service's business:
// the sessions of the service's own client (KEYCLOAK_CLIENT_ID) and the sessions the
// vault holds tokens of. Any other session of the realm (a user's login to some other
// application) it may neither see nor end: for it, those do not exist (404).

// clientSessionScan bounds how many of the client's sessions are looked through to
// decide whether a session without stored tokens belongs to the client.
const (
	clientSessionPage = 100
	clientSessionScan = 10_000
)

// visibleToService reports whether a service caller may see ks, a session of a user
// whose stored tokens are bound to the sessions in stored.
func (s *Service) visibleToService(ks keycloak.Session, typ string, stored map[string][]string) bool {
	if len(stored[string(rowType(typ))+" "+ks.ID]) > 0 {
		return true
	}
	// Offline sessions are listed for the service's client only.
	return typ == Offline || slices.Contains(mapValues(ks.Clients), s.opt.ClientID)
}

// serviceOwner finds whose session sid is, for a service caller, and which of types
// Keycloak lists it as for that user (see ownSessions): a session with stored tokens
// belongs to the user Keycloak lists it for among the rows' owners (or, when it has
// ended at Keycloak, to the owner of those rows); a session without stored tokens must
// be one of the service's own client, and belongs to the user Keycloak's listing
// names. Anything else is ErrNotFound.
func (s *Service) serviceOwner(ctx context.Context, sid string, types []string) (owner string, listed []string, err error) {
	rows, err := s.vault.ListBySession(ctx, sid)
	if err != nil {
		return "", nil, err
	}
	ended := ""
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.UserID] || !storedFor(rows, r.UserID, types) {
			continue
		}
		seen[r.UserID] = true
		found, err := s.listedFor(ctx, r.UserID, sid, types)
		switch {
		case err != nil:
			return "", nil, err
		case len(found) > 0:
			return r.UserID, found, nil
		case ended == "":
			ended = r.UserID
		}
	}
	if ended != "" {
		return ended, nil, nil
	}
	for _, offline := range []bool{false, true} {
		for first := 0; first < clientSessionScan; first += clientSessionPage {
			page, err := s.admin.ClientSessions(ctx, offline, first, clientSessionPage)
			if err != nil {
				return "", nil, err
			}
			if i := slices.IndexFunc(page, func(ks keycloak.Session) bool { return ks.ID == sid }); i >= 0 && page[i].UserID != "" {
				owner := page[i].UserID
				listed, err := s.ownSessions(ctx, owner, sid, types)
				return owner, listed, err
			}
			if len(page) < clientSessionPage {
				break
			}
		}
	}
	return "", nil, ErrNotFound
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
