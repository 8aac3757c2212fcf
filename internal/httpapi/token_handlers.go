package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/tokens"
)

// Tokens is what the access-token endpoints need.
type Tokens interface {
	AccessToken(ctx context.Context, c caller.Caller, id string, minTTL time.Duration) (tokens.Access, error)
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
//	@Tags			tokens
//	@Security		Bearer
//	@Produce		json
//	@Param			id		query		string	true	"persistent token id"	format(uuid)
//	@Param			min_ttl	query		int		false	"minimum remaining lifetime of a cached token, seconds"	minimum(0)	maximum(3600)
//	@Success		200		{object}	DataEnvelope[AccessTokenAnswer]
//	@Failure		401		{object}	ErrorEnvelope
//	@Failure		404		{object}	ErrorEnvelope
//	@Failure		409		{object}	ErrorEnvelope	"token_unusable: the stored token cannot be decrypted or verified"
//	@Failure		422		{object}	ErrorEnvelope
//	@Failure		502		{object}	ErrorEnvelope
//	@Failure		503		{object}	ErrorEnvelope
//	@Router			/v1/access-token [post]
func handleAccessToken(t Tokens, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query() // parsed once for both parameters
		id, err := requiredUUIDIn(q, "id")
		if err != nil {
			ew.write(w, r, err)
			return
		}
		minTTL := time.Duration(-1)
		if v := q.Get("min_ttl"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 3600 {
				ew.write(w, r, validation("query.min_ttl", "must be an integer between 0 and 3600"))
				return
			}
			minTTL = time.Duration(n) * time.Second
		}
		a, err := t.AccessToken(r.Context(), mustCaller(r), id, minTTL)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		encodeWith(w, http.StatusOK, AccessTokenAnswer{AccessToken: a.AccessToken, ExpiresIn: a.ExpiresIn, TokenType: a.TokenType, Scope: a.Scope},
			appendAccessToken)
	}
}

// handleRefreshTokenID refreshes the refresh token stored for the caller's session.
//
//	@Summary		Refresh the stored refresh token of the caller's session
//	@Description	Finds the refresh token stored for the caller's session (sid), refreshes it at Keycloak and stores the successor in the same row. Service callers have no session: 400.
//	@Tags			tokens
//	@Security		Bearer
//	@Produce		json
//	@Success		200	{object}	DataEnvelope[PersistentTokenAnswer]
//	@Failure		400	{object}	ErrorEnvelope
//	@Failure		401	{object}	ErrorEnvelope
//	@Failure		404	{object}	ErrorEnvelope
//	@Failure		409	{object}	ErrorEnvelope
//	@Failure		502	{object}	ErrorEnvelope
//	@Failure		503	{object}	ErrorEnvelope
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
