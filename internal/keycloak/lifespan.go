package keycloak

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// accessTokenLifespanAttr is the client attribute that overrides the realm's
// access-token lifespan for the client's tokens (seconds; absent, empty or not
// positive: the realm's applies).
const accessTokenLifespanAttr = "access.token.lifespan"

// ErrNoLifespan means the realm representation carried no access-token lifespan.
var ErrNoLifespan = errors.New("keycloak: the realm reports no access-token lifespan")

// AccessTokenLifespan is the longest an access token issued to one of clients (by
// clientId) can live: the realm's access-token lifespan, or a client's own override
// when that is longer. A client the realm does not have is skipped. Needs view-realm
// (RealmSettings) and view-clients.
func (a *Admin) AccessTokenLifespan(ctx context.Context, clients []string) (time.Duration, error) {
	rs, err := a.RealmSettings(ctx)
	if err != nil {
		return 0, err
	}
	if rs.AccessTokenLifespan <= 0 {
		return 0, ErrNoLifespan
	}
	longest := rs.AccessTokenLifespan
	clients = slices.Compact(slices.Sorted(slices.Values(clients)))
	for _, id := range clients {
		if id == "" {
			continue
		}
		var found []struct {
			ClientID   string            `json:"clientId"`
			Attributes map[string]string `json:"attributes"`
		}
		if err := a.call(ctx, "admin_client_lifespan", http.MethodGet, "/clients", url.Values{"clientId": {id}}, &found); err != nil {
			return 0, err
		}
		for _, c := range found {
			if n, err := strconv.Atoi(c.Attributes[accessTokenLifespanAttr]); c.ClientID == id && err == nil && n > longest {
				longest = n
			}
		}
	}
	return time.Duration(longest) * time.Second, nil
}
