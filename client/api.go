package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// AccessToken is a fresh access token minted from a stored token.
type AccessToken struct {
	AccessToken string `json:"access_token"`
	// ExpiresIn is the token's remaining lifetime in seconds when it was answered.
	ExpiresIn int    `json:"expires_in"`
	TokenType string `json:"token_type,omitempty"`
	Scope     string `json:"scope,omitempty"`
}

// StoredToken is a stored token's metadata (never the token).
type StoredToken struct {
	PersistentTokenID string         `json:"persistent_token_id"`
	TokenType         string         `json:"token_type"` // "refresh" or "offline"
	SessionStateID    string         `json:"session_state_id"`
	Attributes        map[string]any `json:"attributes"`
	CreatedAt         time.Time      `json:"created_at"`
	UpdatedAt         *time.Time     `json:"updated_at"`
	// Status is "active", or "invalid" once Keycloak refused the token for good;
	// LastError then says why.
	Status    string  `json:"status"`
	LastError *string `json:"last_error"`
	// ExpiresAt is when the token's grant reaches its hard deadline as Keycloak's
	// settings make it (nil: none, or not forecast yet); ExpiresBasis says which setting
	// (offline_session_max_lifespan, sso_session_max_lifespan, no_max_lifespan, …).
	ExpiresAt    *time.Time `json:"expires_at"`
	ExpiresBasis *string    `json:"expires_basis"`
}

// Deletion reports what deleting a stored token did.
type Deletion struct {
	Message           string `json:"message"`
	PersistentTokenID string `json:"persistent_token_id"`
	TokenDeleted      bool   `json:"token_deleted"`
	SessionRevoked    bool   `json:"session_revoked"`
	HadSharedSession  bool   `json:"had_shared_session"`
}

// Session is a user's Keycloak session with the stored tokens bound to it.
type Session struct {
	SessionID      string    `json:"session_id"`
	Type           string    `json:"type"` // "online" or "offline"
	StartedAt      time.Time `json:"started_at"`
	LastAccessAt   time.Time `json:"last_access_at"`
	IPAddress      string    `json:"ip_address"`
	Clients        []string  `json:"clients"`
	StoredTokenIDs []string  `json:"stored_token_ids"`
}

// SessionRevocation reports what ending a session did.
type SessionRevocation struct {
	SessionID     string   `json:"session_id"`
	Revoked       bool     `json:"revoked"`
	Ended         []string `json:"ended"`
	TokensDeleted int      `json:"tokens_deleted"`
	Message       string   `json:"message"`
}

// Validation is what auth-manager knows about the caller's own token.
type Validation struct {
	Valid         bool   `json:"valid"`
	Subject       string `json:"sub"`
	SessionID     string `json:"sid,omitempty"`
	ExpiresAt     int64  `json:"exp"`
	Scope         string `json:"scope"`
	ClientID      string `json:"client_id"`
	Username      string `json:"username,omitempty"`
	ServiceCaller bool   `json:"service_caller"`
}

// Consent is the start of an offline-access consent: send the user's browser to
// ConsentURL.
type Consent struct {
	ConsentURL     string `json:"consent_url"`
	SessionStateID string `json:"session_state_id"`
	Message        string `json:"message"`
}

// OfflineToken names a stored offline token and its Keycloak offline session.
type OfflineToken struct {
	PersistentTokenID string `json:"persistent_token_id"`
	SessionStateID    string `json:"session_state_id"`
}

type storeRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type persistentToken struct {
	PersistentTokenID string `json:"persistent_token_id"`
}

// AccessToken returns a fresh access token minted from the stored token id (POST
// /v1/access-token). The service serves it from its cache while it lives longer than
// the minimum lifetime (WithMinTTL). Callers that call APIs with the token should use
// TokenSource instead, which also reuses it. Retried (see RetryPolicy).
func (c *Client) AccessToken(ctx context.Context, id string, opts ...TokenOption) (*AccessToken, error) {
	return c.accessToken(ctx, id, tokenOptions(opts))
}

func (c *Client) accessToken(ctx context.Context, id string, o tokenOpts) (*AccessToken, error) {
	var a AccessToken
	err := c.do(ctx, call{method: http.MethodPost, path: "/v1/access-token", query: o.query(id), idempotent: true}, &a)
	if err != nil {
		return nil, err
	}
	if o.audience != "" && !audienceIs(a.AccessToken, o.audience) {
		return nil, &Error{Status: http.StatusOK, Code: CodeWrongAudience,
			Message: "the token is not restricted to audience " + o.audience + " (does this auth-manager support audience?)"}
	}
	return &a, nil
}

// StoreRefreshToken stores the caller's refresh token, encrypted, and returns its
// persistent id (POST /v1/refresh-token). A user call, made through AsUser with the
// user's access token of the same session as refreshToken. One per user: a second
// call replaces it and returns the same id. Retried (see RetryPolicy).
func (c *Client) StoreRefreshToken(ctx context.Context, refreshToken string) (string, error) {
	var p persistentToken
	err := c.do(ctx, call{method: http.MethodPost, path: "/v1/refresh-token", body: storeRequest{refreshToken}, idempotent: true}, &p)
	return p.PersistentTokenID, err
}

// RefreshStoredToken refreshes the refresh token stored for the caller's session at
// Keycloak and returns its persistent id (POST /v1/refresh-token-id). A user call
// (AsUser). Not retried: it spends a refresh token.
func (c *Client) RefreshStoredToken(ctx context.Context) (string, error) {
	var p persistentToken
	err := c.do(ctx, call{method: http.MethodPost, path: "/v1/refresh-token-id"}, &p)
	return p.PersistentTokenID, err
}

// ValidateToken reports what auth-manager makes of the caller's own token (GET
// /v1/validate-token); an inactive token is ErrUnauthorized.
func (c *Client) ValidateToken(ctx context.Context) (*Validation, error) {
	var v Validation
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/validate-token", idempotent: true}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Tokens lists the metadata of a user's stored tokens (GET /v1/tokens). userID ""
// means the caller's own; another user's id needs a service caller.
func (c *Client) Tokens(ctx context.Context, userID string) ([]StoredToken, error) {
	var ts []StoredToken
	err := c.do(ctx, call{method: http.MethodGet, path: "/v1/tokens", query: userQuery(userID), idempotent: true}, &ts)
	return ts, err
}

// DeleteToken revokes a stored token at Keycloak and deletes it (DELETE
// /v1/tokens/{id}). When a retry follows a lost answer, the retry may report
// ErrNotFound for the token the first attempt deleted.
func (c *Client) DeleteToken(ctx context.Context, id string) (*Deletion, error) {
	var d Deletion
	err := c.do(ctx, call{method: http.MethodDelete, path: "/v1/tokens/" + url.PathEscape(id), idempotent: true}, &d)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Sessions lists a user's Keycloak sessions, online and offline, with the stored tokens
// bound to each (GET /v1/sessions). userID "" means the caller's own.
func (c *Client) Sessions(ctx context.Context, userID string) ([]Session, error) {
	var ss []Session
	err := c.do(ctx, call{method: http.MethodGet, path: "/v1/sessions", query: userQuery(userID), idempotent: true}, &ss)
	return ss, err
}

// DeleteSession ends a Keycloak session and deletes the stored tokens bound to it
// (DELETE /v1/sessions/{session_id}). typ "" ends both kinds; "online" or "offline"
// only that one.
func (c *Client) DeleteSession(ctx context.Context, sessionID, typ string) (*SessionRevocation, error) {
	q := url.Values{}
	if typ != "" {
		q.Set("type", typ)
	}
	var r SessionRevocation
	err := c.do(ctx, call{method: http.MethodDelete, path: "/v1/sessions/" + url.PathEscape(sessionID), query: q, idempotent: true}, &r)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// OfflineConsentURL starts an offline-access consent for the calling user (GET
// /v1/offline-token), a user call (AsUser): the user's browser must open ConsentURL;
// Keycloak then sends it to the service's callback, which stores the offline token.
func (c *Client) OfflineConsentURL(ctx context.Context) (*Consent, error) {
	var k Consent
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/offline-token", idempotent: true}, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// ReissueOfflineToken stores a new offline token made from the one stored for the
// caller's session (POST /v1/offline-token-id), a user call (AsUser). Not retried:
// each call adds a row.
func (c *Client) ReissueOfflineToken(ctx context.Context) (*OfflineToken, error) {
	var o OfflineToken
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/offline-token-id"}, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// DeleteOfflineToken deletes a stored offline token and revokes its offline session
// unless another stored token shares it (DELETE /v1/offline-token-id).
func (c *Client) DeleteOfflineToken(ctx context.Context, id string) (*Deletion, error) {
	var d Deletion
	err := c.do(ctx, call{method: http.MethodDelete, path: "/v1/offline-token-id", query: url.Values{"id": {id}}, idempotent: true}, &d)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func userQuery(userID string) url.Values {
	if userID == "" {
		return nil
	}
	return url.Values{"user_id": {userID}}
}
