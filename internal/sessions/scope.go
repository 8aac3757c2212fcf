package sessions

import (
	"context"
	"slices"

	"github.com/auth-manager/auth-manager/internal/caller"
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

// serviceMayEnd reports whether a service caller may end session sid: stored tokens are
// bound to it, or it is a session of the service's own client.
func (s *Service) serviceMayEnd(ctx context.Context, c caller.Caller, sid string) error {
	if !c.Service {
		return nil
	}
	rows, err := s.vault.ListBySession(ctx, sid)
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		return nil
	}
	for _, offline := range []bool{false, true} {
		for first := 0; first < clientSessionScan; first += clientSessionPage {
			page, err := s.admin.ClientSessions(ctx, offline, first, clientSessionPage)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(page, func(ks keycloak.Session) bool { return ks.ID == sid }) {
				return nil
			}
			if len(page) < clientSessionPage {
				break
			}
		}
	}
	return ErrNotFound
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
