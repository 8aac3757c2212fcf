package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Keycloak is a client of the stack's Keycloak for tools and tests: token grants at a
// realm's token endpoint, and the admin REST API (see Admin).
type Keycloak struct {
	Base string // e.g. http://127.0.0.1:8080, without a trailing slash
	HTTP *http.Client
}

// NewKeycloak returns a client of the Keycloak at base through client; it makes no call.
func NewKeycloak(base string, client *http.Client) *Keycloak {
	return &Keycloak{Base: strings.TrimSuffix(base, "/"), HTTP: client}
}

// Tokens is a token endpoint's answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int    `json:"expires_in"`
	SessionState string `json:"session_state"`
	Scope        string `json:"scope"`
}

// GrantError is a token endpoint's refusal: its status and OAuth error, nothing else
// of the answer.
type GrantError struct {
	Grant       string // grant_type
	Status      int
	Code        string // the OAuth error, e.g. invalid_grant
	Description string
}

func (e *GrantError) Error() string {
	return fmt.Sprintf("keycloak %s grant: %d %s: %s", e.Grant, e.Status, e.Code, e.Description)
}

// TokenEndpoint is realm's token endpoint.
func (k *Keycloak) TokenEndpoint(realm string) string {
	return k.Base + "/realms/" + url.PathEscape(realm) + "/protocol/openid-connect/token"
}

// Grant posts form (grant_type and its parameters) to realm's token endpoint. A
// refusal is a *GrantError.
func (k *Keycloak) Grant(ctx context.Context, realm string, form url.Values) (Tokens, error) {
	grant := form.Get("grant_type")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.TokenEndpoint(realm), strings.NewReader(form.Encode()))
	if err != nil {
		return Tokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := k.HTTP.Do(req)
	if err != nil {
		return Tokens{}, fmt.Errorf("keycloak %s grant (make stack-up?): %w", grant, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Tokens{}, fmt.Errorf("keycloak %s grant: %w", grant, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
			Desc  string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		return Tokens{}, &GrantError{Grant: grant, Status: resp.StatusCode, Code: e.Error, Description: e.Desc}
	}
	var ts Tokens
	if err := json.Unmarshal(body, &ts); err != nil || ts.AccessToken == "" {
		return Tokens{}, fmt.Errorf("keycloak %s grant: an answer without an access token", grant)
	}
	return ts, nil
}

// ClientCredentials is a client_credentials token of a confidential client.
func (k *Keycloak) ClientCredentials(ctx context.Context, realm, client, secret string) (Tokens, error) {
	return k.Grant(ctx, realm, url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}})
}

// Password logs user in on client (secret "" for a public client) with the password
// grant: a new Keycloak session each time. scope "" asks for openid.
func (k *Keycloak) Password(ctx context.Context, realm, client, secret, user, password, scope string) (Tokens, error) {
	if scope == "" {
		scope = "openid"
	}
	form := url.Values{"grant_type": {"password"}, "client_id": {client}, "username": {user}, "password": {password}, "scope": {scope}}
	if secret != "" {
		form.Set("client_secret", secret)
	}
	return k.Grant(ctx, realm, form)
}

// RefreshForm is the refresh_token grant's form for client (secret "" for a public
// client).
func RefreshForm(client, secret, refreshToken string) url.Values {
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {client}, "refresh_token": {refreshToken}}
	if secret != "" {
		form.Set("client_secret", secret)
	}
	return form
}

// Refresh presents a refresh token of client at realm's token endpoint.
func (k *Keycloak) Refresh(ctx context.Context, realm, client, secret, refreshToken string) (Tokens, error) {
	return k.Grant(ctx, realm, RefreshForm(client, secret, refreshToken))
}
