package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/tokens"
)

// Tokens is what the access-token endpoints need.
type Tokens interface {
	AccessToken(ctx context.Context, c caller.Caller, id string, minTTL time.Duration) (tokens.Access, error)
	NarrowedAccessToken(ctx context.Context, c caller.Caller, id string, minTTL time.Duration, n tokens.Narrowing) (tokens.Access, error)
	RefreshBySession(ctx context.Context, c caller.Caller) (string, error)
}

// AccessTokenAnswer is a fresh access token.
type AccessTokenAnswer struct {
	AccessToken string `json:"access_token" example:"eyJhbGciOiJSUzI1NiJ9..."`
	ExpiresIn   int    `json:"expires_in" example:"287"`
	TokenType   string `json:"token_type,omitempty" example:"Bearer"`
	Scope       string `json:"scope,omitempty" example:"openid profile email offline_access"`
} // @name AccessTokenAnswer

// handleAccessToken mints an access token from a stored token.
//
//	@Summary		Get an access token from a stored token
//	@Description	Returns a fresh access token minted from the stored refresh or offline token. Served from memory while the cached token lives longer than min_ttl seconds; otherwise the stored token is refreshed at Keycloak and a rotated successor replaces it in the same row. Owner or service caller; any other id answers 404 like a missing one. A token Keycloak refused for good answers 502 keycloak_error (invalid_grant) at once on later calls.
//	@Description	With audience (and optionally scope), the minted token is exchanged at Keycloak (RFC 8693 standard token exchange) for one whose aud is only that client, cached per (id, audience, scope). Keycloak's refusal (the audience is not available to the service's client, exchange not enabled, unknown scope) answers 502 keycloak_error with Keycloak's error and error_description in details; a broader token is never returned.
//	@ID				getAccessToken
//	@Tags			tokens
//	@Security		Bearer
//	@Produce		json
//	@Param			id		query		string	true	"persistent token id"	format(uuid)
//	@Param			min_ttl	query		int		false	"minimum remaining lifetime of a cached token, seconds"	minimum(0)	maximum(3600)
//	@Param			audience	query	string	false	"client id the token is narrowed to (token exchange)"	maxlength(255)
//	@Param			scope	query	string	false	"optional client scopes for the narrowed token, space-separated; only with audience"	maxlength(1024)
//	@Success		200		{object}	DataEnvelope[AccessTokenAnswer]
//	@Failure		401		{object}	ErrorEnvelope
//	@Failure		403		{object}	ErrorEnvelope	"scope_not_granted: a scope the stored token was never granted; audience_not_allowed: an audience the operator does not allow this caller (AUTH_MANAGER_EXCHANGE_AUDIENCES, AUTH_MANAGER_EXCHANGE_AUDIENCES_BY_CLIENT); both decided before any exchange"
//	@Failure		404		{object}	ErrorEnvelope
//	@Failure		409		{object}	ErrorEnvelope	"token_unusable: the stored token cannot be decrypted or verified, or a legacy row holds a token whose sub or typ does not match the row"
//	@Failure		422		{object}	ErrorEnvelope
//	@Failure		502		{object}	ErrorEnvelope
//	@Failure		503		{object}	ErrorEnvelope	"service_unavailable: Keycloak or the database is unavailable or timed out; reason keycloak_busy: the refresh was shed because every AUTH_MANAGER_KEYCLOAK_CONCURRENCY slot of this replica stayed busy for KEYCLOAK_TIMEOUT; retry shortly"
//	@Router			/v1/access-token [post]
func handleAccessToken(t Tokens, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, minTTL, n, err := accessTokenParams(r.URL.Query())
		if err != nil {
			ew.write(w, r, err)
			return
		}
		var a tokens.Access
		if n.Audience == "" {
			a, err = t.AccessToken(r.Context(), mustCaller(r), id, minTTL)
		} else {
			a, err = t.NarrowedAccessToken(r.Context(), mustCaller(r), id, minTTL, n)
		}
		if err != nil {
			ew.write(w, r, err)
			return
		}
		encode(w, http.StatusOK, AccessTokenAnswer{AccessToken: a.AccessToken, ExpiresIn: a.ExpiresIn, TokenType: a.TokenType, Scope: a.Scope})
	}
}

// handleRefreshTokenID refreshes the refresh token stored for the caller's session.
//
//	@Summary		Refresh the stored refresh token of the caller's session
//	@Description	Finds the refresh token stored for the caller's session (sid), refreshes it at Keycloak and stores the successor in the same row. Service callers have no session: 400.
//	@ID				refreshStoredToken
//	@Tags			tokens
//	@Security		Bearer
//	@Produce		json
//	@Success		200	{object}	DataEnvelope[PersistentTokenAnswer]
//	@Failure		400	{object}	ErrorEnvelope
//	@Failure		401	{object}	ErrorEnvelope
//	@Failure		404	{object}	ErrorEnvelope
//	@Failure		409	{object}	ErrorEnvelope
//	@Failure		502	{object}	ErrorEnvelope
//	@Failure		503	{object}	ErrorEnvelope	"service_unavailable: Keycloak or the database is unavailable or timed out; reason keycloak_busy: the refresh was shed because every AUTH_MANAGER_KEYCLOAK_CONCURRENCY slot of this replica stayed busy for KEYCLOAK_TIMEOUT; retry shortly"
//	@Router			/v1/refresh-token-id [post]
func handleRefreshTokenID(t Tokens, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := t.RefreshBySession(r.Context(), mustCaller(r))
		if err != nil {
			ew.write(w, r, err)
			return
		}
		encode(w, http.StatusOK, PersistentTokenAnswer{PersistentTokenID: id})
	}
}

// validClientID reports whether s may name a Keycloak client in an audience: 1 to
// 255 printable ASCII characters without spaces (client ids may be URLs). A loop, not
// the regexp `^[\x21-\x7E]{1,255}$`, which compiles to 255 copies of the class: some
// 300 KB of heap for the life of the process, marked by every GC.
func validClientID(s string) bool {
	return len(s) >= 1 && len(s) <= 255 && allBytes(s, func(c byte) bool { return c >= 0x21 && c <= 0x7E })
}

// allBytes reports whether ok holds for every byte of s.
func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// scopePattern is RFC 6749's scope: scope-tokens separated by single spaces.
var scopePattern = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$`)

// accessTokenParams reads the access-token query: id, min_ttl (-1 when absent) and the
// narrowing.
func accessTokenParams(q url.Values) (id string, minTTL time.Duration, n tokens.Narrowing, err error) {
	if id, err = requiredUUIDIn(q, "id"); err != nil {
		return "", 0, n, err
	}
	minTTL = -1
	if v := q.Get("min_ttl"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s < 0 || s > 3600 {
			return "", 0, n, validation("query.min_ttl", "must be an integer between 0 and 3600")
		}
		minTTL = time.Duration(s) * time.Second
	}
	n, err = narrowing(q)
	return id, minTTL, n, err
}

// narrowing reads audience and scope of an access-token request.
func narrowing(q url.Values) (tokens.Narrowing, error) {
	n := tokens.Narrowing{Audience: q.Get("audience"), Scope: q.Get("scope")}
	switch {
	case q.Has("audience") && !validClientID(n.Audience):
		return n, validation("query.audience", "must be a client id: 1 to 255 printable characters without spaces")
	case q.Has("scope") && n.Audience == "":
		return n, validation("query.scope", "only with audience")
	case q.Has("scope") && (len(n.Scope) > 1024 || !scopePattern.MatchString(n.Scope)):
		return n, validation("query.scope", "must be scope names separated by single spaces, at most 1024 characters")
	}
	return n, nil
}
