package keycloak

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// ClientSessions lists one page (first, at most max) of the sessions that hold a token
// of the service's own client: online ones, or offline ones when offline is true.
// Needs view-users and view-clients.
func (a *Admin) ClientSessions(ctx context.Context, offline bool, first, max int) ([]Session, error) {
	cid, err := a.ClientUUID(ctx)
	if err != nil {
		return nil, err
	}
	kind, op := "user-sessions", "admin_client_sessions"
	if offline {
		kind, op = "offline-sessions", "admin_client_offline_sessions"
	}
	q := url.Values{"first": {strconv.Itoa(first)}, "max": {strconv.Itoa(max)}}
	var out []Session
	err = a.call(ctx, op, http.MethodGet, "/clients/"+url.PathEscape(cid)+"/"+kind, q, &out)
	return out, err
}
