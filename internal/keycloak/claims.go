package keycloak

import (
	"encoding/json"
	"slices"
)

// Claims are the fields of an access token (or of an introspection answer, which
// repeats them) that the service relies on.
type Claims struct {
	Active          bool     `json:"active"` // introspection only
	Issuer          string   `json:"iss"`
	Subject         string   `json:"sub"`
	SessionID       string   `json:"sid"`
	AuthorizedParty string   `json:"azp"`
	ClientID        string   `json:"client_id"`
	Audience        Audience `json:"aud"`
	Username        string   `json:"username"`
	PreferredName   string   `json:"preferred_username"`
	Scope           string   `json:"scope"`
	Type            string   `json:"typ"`
	Expiry          int64    `json:"exp"`
	IssuedAt        int64    `json:"iat"`
	RealmAccess     struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
	ResourceAccess map[string]struct {
		Roles []string `json:"roles"`
	} `json:"resource_access"`
}

// HasRole reports whether role is a realm role, or a client role of clientID.
func (c Claims) HasRole(role, clientID string) bool {
	if slices.Contains(c.RealmAccess.Roles, role) {
		return true
	}
	ra, ok := c.ResourceAccess[clientID]
	return ok && slices.Contains(ra.Roles, role)
}

// Client is the client the token was issued to: azp, or client_id in introspection.
func (c Claims) Client() string {
	if c.AuthorizedParty != "" {
		return c.AuthorizedParty
	}
	return c.ClientID
}

// Name is the user name, from introspection's username or the token's preferred_username.
func (c Claims) Name() string {
	if c.Username != "" {
		return c.Username
	}
	return c.PreferredName
}

// Audience is the aud claim, which JWT allows as a string or an array of strings.
type Audience []string

// UnmarshalJSON accepts both forms.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}
