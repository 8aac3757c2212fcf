package keycloak

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// What `auth-manager doctor` asks Keycloak about the realm and the service's client.
// The sessions API does not need these calls; view-realm in particular is needed only
// for RealmSettings.

// Discovery fetches the realm's discovery document at the address the service connects
// to and returns the issuer it names, without go-oidc's issuer check: doctor explains a
// mismatch instead of failing on it.
func (c *Client) Discovery(ctx context.Context) (issuer string, err error) {
	connect := c.opt.ConnectURL
	if connect == "" {
		connect = c.opt.IssuerURL
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, connect+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", fmt.Errorf("keycloak: discovery: %w", err)
	}
	body, err := c.do(req, "discovery")
	if err != nil {
		return "", err
	}
	var d discoveryDoc
	if err := json.Unmarshal(body, &d); err != nil || d.Issuer == "" {
		return "", &Error{Op: "discovery", Status: http.StatusOK, Code: "malformed_response", Description: "not a discovery document"}
	}
	return d.Issuer, nil
}

// ServiceAccountRoles gets a token with the client-credentials grant and returns the
// realm-management roles it carries: what the service account may do in the admin API.
func (a *Admin) ServiceAccountRoles(ctx context.Context) ([]string, error) {
	a.forget() // a fresh grant: this is the check that the credentials work now
	token, err := a.serviceToken(ctx)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, &Error{Op: "admin_token", Status: http.StatusOK, Code: "malformed_response", Description: "service-account token is not a JWT"}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var cl Claims
	if err == nil {
		err = json.Unmarshal(raw, &cl)
	}
	if err != nil {
		return nil, &Error{Op: "admin_token", Status: http.StatusOK, Code: "malformed_response", Description: "service-account token payload unreadable"}
	}
	return cl.ResourceAccess["realm-management"].Roles, nil
}

// ClientAttributes returns the attributes of the service's client (back-channel logout
// URL and flags among them). Needs view-clients.
func (a *Admin) ClientAttributes(ctx context.Context) (map[string]string, error) {
	id, err := a.ClientUUID(ctx)
	if err != nil {
		return nil, err
	}
	var rep struct {
		Attributes map[string]string `json:"attributes"`
	}
	err = a.call(ctx, "admin_client", http.MethodGet, "/clients/"+url.PathEscape(id), nil, &rep)
	return rep.Attributes, err
}

// RealmSettings are the realm's session and token settings the service depends on.
type RealmSettings struct {
	AccessTokenLifespan              int // seconds
	OfflineSessionIdleTimeout        int // seconds
	OfflineSessionMaxLifespanEnabled bool
	OfflineSessionMaxLifespan        int // seconds
	RevokeRefreshToken               bool
	RefreshTokenMaxReuse             int
	// The online sessions' hard limits (seconds; 0: Keycloak's default): SSO Session
	// Max, the same for remember-me sessions, and the realm-wide client session and
	// client offline session maxima (0: not set).
	SSOSessionMaxLifespan           int
	SSOSessionMaxLifespanRememberMe int
	ClientSessionMaxLifespan        int
	ClientOfflineSessionMaxLifespan int
}

// RealmSettings reads the realm representation. Needs view-realm: without it Keycloak
// still answers 200, with a reduced representation that lacks these fields, which is
// reported as a 403 rather than read as zeros.
func (a *Admin) RealmSettings(ctx context.Context) (RealmSettings, error) {
	var raw struct {
		AccessTokenLifespan              int   `json:"accessTokenLifespan"`
		OfflineSessionIdleTimeout        *int  `json:"offlineSessionIdleTimeout"`
		OfflineSessionMaxLifespanEnabled bool  `json:"offlineSessionMaxLifespanEnabled"`
		OfflineSessionMaxLifespan        int   `json:"offlineSessionMaxLifespan"`
		RevokeRefreshToken               *bool `json:"revokeRefreshToken"`
		RefreshTokenMaxReuse             int   `json:"refreshTokenMaxReuse"`
		SSOSessionMaxLifespan            int   `json:"ssoSessionMaxLifespan"`
		SSOSessionMaxLifespanRememberMe  int   `json:"ssoSessionMaxLifespanRememberMe"`
		ClientSessionMaxLifespan         int   `json:"clientSessionMaxLifespan"`
		ClientOfflineSessionMaxLifespan  int   `json:"clientOfflineSessionMaxLifespan"`
	}
	if err := a.call(ctx, "admin_realm", http.MethodGet, "", nil, &raw); err != nil {
		return RealmSettings{}, err
	}
	if raw.OfflineSessionIdleTimeout == nil || raw.RevokeRefreshToken == nil {
		return RealmSettings{}, &Error{Op: "admin_realm", Status: http.StatusForbidden, Code: "forbidden",
			Description: "the realm's session and token settings are hidden from the service account (no view-realm)"}
	}
	return RealmSettings{AccessTokenLifespan: raw.AccessTokenLifespan, OfflineSessionIdleTimeout: *raw.OfflineSessionIdleTimeout,
		OfflineSessionMaxLifespanEnabled: raw.OfflineSessionMaxLifespanEnabled, OfflineSessionMaxLifespan: raw.OfflineSessionMaxLifespan,
		RevokeRefreshToken: *raw.RevokeRefreshToken, RefreshTokenMaxReuse: raw.RefreshTokenMaxReuse,
		SSOSessionMaxLifespan: raw.SSOSessionMaxLifespan, SSOSessionMaxLifespanRememberMe: raw.SSOSessionMaxLifespanRememberMe,
		ClientSessionMaxLifespan: raw.ClientSessionMaxLifespan, ClientOfflineSessionMaxLifespan: raw.ClientOfflineSessionMaxLifespan}, nil
}
