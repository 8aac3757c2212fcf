package keycloak

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RFC 8693 names.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

// ErrBroaderToken means Keycloak answered a token exchange with a token whose audience
// is not exactly the one asked for (or that cannot be read). The token is dropped: a
// caller that asked for a narrow token must never get a broader one. It is an *Error,
// so it reaches callers as Keycloak's failure (502 keycloak_error).
var ErrBroaderToken = &Error{Op: "token_exchange", Status: http.StatusOK, Code: "unexpected_audience",
	Description: "Keycloak's exchanged token is not restricted to the requested audience"}

// ExchangeForAudience trades an access token issued to the service's client for one
// whose aud is only audience (a client id of the realm), with Keycloak's standard token
// exchange (RFC 8693, Keycloak 26's "standard token exchange" v2). scope, when not
// empty, asks for these (optional) client scopes as well; Keycloak always adds the
// client's default scopes.
//
// The realm must allow it: the service's client needs the attribute
// standard.token.exchange.enabled=true, and audience must be available to it (an
// audience mapper on the client or in one of its default client scopes, or in an
// optional client scope that scope names). Otherwise Keycloak refuses with a 400,
// returned as *Error (invalid_request "Requested audience not available: …",
// "Standard token exchange is not enabled for the requested client"; invalid_client
// "Audience not found"; invalid_scope). These are refusals of the exchange, not of the
// stored token: none is invalid_grant unless the subject token itself was rejected.
//
// Nothing is retried: an exchange is cheap to ask for again, and the caller decides.
func (c *Client) ExchangeForAudience(ctx context.Context, accessToken, audience, scope string) (TokenSet, error) {
	const op = "token_exchange"
	if audience == "" || accessToken == "" {
		return TokenSet{}, &Error{Op: op, Code: "invalid_request", Description: "an access token and an audience are required"}
	}
	conf, err := c.OAuth2(ctx)
	if err != nil {
		return TokenSet{}, err
	}
	form := url.Values{
		"grant_type":           {grantTokenExchange},
		"subject_token":        {accessToken},
		"subject_token_type":   {tokenTypeAccess},
		"requested_token_type": {tokenTypeAccess},
		"audience":             {audience},
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	body, err := c.postForm(ctx, op, conf.Endpoint.TokenURL, form)
	if err != nil {
		return TokenSet{}, err
	}
	var ans struct {
		AccessToken     string `json:"access_token"`
		TokenType       string `json:"token_type"`
		ExpiresIn       int64  `json:"expires_in"`
		Scope           string `json:"scope"`
		SessionState    string `json:"session_state"`
		IssuedTokenType string `json:"issued_token_type"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.AccessToken == "" {
		return TokenSet{}, &Error{Op: op, Status: http.StatusOK, Code: "malformed_response", Description: "token exchange answer has no access token"}
	}
	if ans.IssuedTokenType != "" && ans.IssuedTokenType != tokenTypeAccess {
		return TokenSet{}, &Error{Op: op, Status: http.StatusOK, Code: "malformed_response", Description: "token exchange issued " + ans.IssuedTokenType}
	}
	aud, err := TokenAudience(ans.AccessToken)
	if err != nil || len(aud) != 1 || aud[0] != audience {
		return TokenSet{}, ErrBroaderToken
	}
	return TokenSet{AccessToken: ans.AccessToken, TokenType: ans.TokenType, Scope: ans.Scope, SessionState: ans.SessionState,
		Expiry: time.Now().Add(time.Duration(ans.ExpiresIn) * time.Second)}, nil
}

// TokenAudience reads the aud claim of a JWT without verifying it: for checking what
// Keycloak just issued over the authenticated back channel, never for deciding whom to
// trust.
func TokenAudience(jwt string) (Audience, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("keycloak: not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("keycloak: JWT payload is not base64url")
	}
	var cl struct {
		Audience Audience `json:"aud"`
	}
	if err := json.Unmarshal(raw, &cl); err != nil {
		return nil, errors.New("keycloak: JWT payload is not a JSON object")
	}
	return cl.Audience, nil
}
