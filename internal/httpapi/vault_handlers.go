package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Vault is what the vault endpoints need.
type Vault interface {
	StoreRefresh(ctx context.Context, c caller.Caller, token string) (vault.Meta, error)
	List(ctx context.Context, c caller.Caller, userID string) ([]vault.Meta, error)
	Delete(ctx context.Context, c caller.Caller, id string) (vault.Deletion, error)
}

// StoreRefreshRequest is the body of POST /v1/refresh-token.
type StoreRefreshRequest struct {
	RefreshToken *string `json:"refresh_token" validate:"required" example:"eyJhbGciOiJIUzUxMiJ9..."`
} // @name StoreRefreshRequest

// PersistentTokenAnswer names a stored token.
type PersistentTokenAnswer struct {
	PersistentTokenID string `json:"persistent_token_id" example:"0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f"`
} // @name PersistentTokenAnswer

// TokenMeta is a stored token's metadata.
type TokenMeta struct {
	PersistentTokenID string         `json:"persistent_token_id" example:"0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f"`
	TokenType         string         `json:"token_type" enums:"refresh,offline" example:"refresh"`
	SessionStateID    string         `json:"session_state_id" example:"8d2f0c1e-7a6b-4e2d-9f3c-1b2a3c4d5e6f"`
	Attributes        map[string]any `json:"attributes" extensions:"x-nullable"`
	CreatedAt         time.Time      `json:"created_at" format:"date-time"`
	UpdatedAt         *time.Time     `json:"updated_at" format:"date-time" extensions:"x-nullable"`
	Status            string         `json:"status" enums:"active,invalid" example:"active"`
	LastError         *string        `json:"last_error" extensions:"x-nullable" example:"invalid_grant: Session not active"`
	ExpiresAt         *time.Time     `json:"expires_at" format:"date-time" extensions:"x-nullable"`
	// ExpiresBasis is one of offline_session_max_lifespan, client_offline_session_max_lifespan,
	// sso_session_max_lifespan, sso_session_max_lifespan_remember_me, client_session_max_lifespan,
	// no_max_lifespan, session_not_found (not an enum in the spec: nullable enums break
	// generated clients).
	ExpiresBasis *string `json:"expires_basis" extensions:"x-nullable" example:"offline_session_max_lifespan"`
} // @name TokenMeta

// DeletionAnswer reports what a delete did.
type DeletionAnswer struct {
	Message           string `json:"message" example:"Token deleted"`
	PersistentTokenID string `json:"persistent_token_id" example:"0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f"`
	TokenDeleted      bool   `json:"token_deleted" example:"true"`
	SessionRevoked    bool   `json:"session_revoked" example:"true"`
	HadSharedSession  bool   `json:"had_shared_session" example:"false"`
} // @name DeletionAnswer

// handleStoreRefreshToken stores the caller's refresh token, one per user.
//
//	@Summary		Store the caller's refresh token
//	@Description	Encrypts and stores the caller's refresh token. The token is stored only if Keycloak's introspection (with the service's own client credentials) says it is active, a refresh or offline token of this realm issued to this service's client, and the caller's; the row's user, type and session come from that answer, never from the token's own payload. One refresh token per user: a second call replaces the token and returns the same id. A user holds at most AUTH_MANAGER_MAX_TOKENS_PER_USER stored tokens (409 too_many_tokens). An offline token (typ Offline) is stored as an OFFLINE row of its own offline session instead: it is not replaced by the next refresh token and outlives the logout of the online session; storing the same one again returns its id. Any other token type is 422 on body.refresh_token.
//	@ID				storeRefreshToken
//	@Tags			tokens
//	@Security		Bearer
//	@Accept			json
//	@Produce		json
//	@Param			body	body		StoreRefreshRequest	true	"the refresh token"
//	@Success		200		{object}	DataEnvelope[PersistentTokenAnswer]
//	@Failure		400		{object}	ErrorEnvelope	"invalid_request: caller token has no sid"
//	@Failure		401		{object}	ErrorEnvelope
//	@Failure		409		{object}	ErrorEnvelope	"too_many_tokens: the user already holds AUTH_MANAGER_MAX_TOKENS_PER_USER stored tokens"
//	@Failure		413		{object}	ErrorEnvelope
//	@Failure		422		{object}	ErrorEnvelope	"validation_error: not a token Keycloak says is active and the caller's, of this realm and client"
//	@Failure		502		{object}	ErrorEnvelope
//	@Failure		503		{object}	ErrorEnvelope
//	@Router			/v1/refresh-token [post]
func handleStoreRefreshToken(v Vault, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req StoreRefreshRequest
		if err := decode(r, &req); err != nil {
			ew.write(w, r, err)
			return
		}
		if req.RefreshToken == nil {
			ew.write(w, r, validation("body.refresh_token", "field required"))
			return
		}
		row, err := v.StoreRefresh(r.Context(), mustCaller(r), *req.RefreshToken)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		encode(w, http.StatusOK, PersistentTokenAnswer{PersistentTokenID: row.ID})
	}
}

// handleListTokens lists stored tokens' metadata.
//
//	@Summary		List stored tokens
//	@Description	Metadata of the caller's stored tokens (never the tokens). A service caller may pass user_id; a user caller passing another user's id gets 403. expires_at is when the token's grant reaches its hard deadline, whatever is done with it, as the last expiry forecast derived it from Keycloak's settings (expires_basis: the realm's Offline Session Max, a Client (Offline) Session Max, SSO Session Max; no_max_lifespan when an offline session has none; session_not_found when Keycloak no longer lists its session); both null until a forecast pass (AUTH_MANAGER_EVENTS_FORECAST_INTERVAL) has seen the row. token.expiring announces the same expires_at.
//	@ID				listTokens
//	@Tags			tokens
//	@Security		Bearer
//	@Produce		json
//	@Param			user_id	query		string	false	"user id (service callers)"	format(uuid)
//	@Success		200		{object}	DataEnvelope[[]TokenMeta]
//	@Failure		401		{object}	ErrorEnvelope
//	@Failure		403		{object}	ErrorEnvelope
//	@Failure		422		{object}	ErrorEnvelope
//	@Failure		502		{object}	ErrorEnvelope
//	@Failure		503		{object}	ErrorEnvelope
//	@Router			/v1/tokens [get]
func handleListTokens(v Vault, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		userID, err := optionalUUID(r, "user_id")
		if err != nil {
			ew.write(w, r, err)
			return
		}
		metas, err := v.List(r.Context(), mustCaller(r), userID)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		out := make([]TokenMeta, 0, len(metas))
		for _, m := range metas {
			tm := TokenMeta{PersistentTokenID: m.ID, TokenType: strings.ToLower(string(m.Type)),
				SessionStateID: m.SessionID, Attributes: m.Attributes, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
				Status: string(m.Status)}
			if m.LastError != "" {
				tm.LastError = &m.LastError
			}
			if m.ExpiresBasis != "" {
				tm.ExpiresAt, tm.ExpiresBasis = m.ExpiresAt, &m.ExpiresBasis
			}
			out = append(out, tm)
		}
		encode(w, http.StatusOK, out)
	}
}

// handleDeleteToken revokes and deletes one stored token.
//
//	@Summary		Delete a stored token
//	@Description	Revokes the token at Keycloak (unless another stored token shares its session) and deletes the row. Owner or service caller; any other id answers 404 exactly like a missing one.
//	@ID				deleteToken
//	@Tags			tokens
//	@Security		Bearer
//	@Produce		json
//	@Param			id	path		string	true	"persistent token id"	format(uuid)
//	@Success		200	{object}	DataEnvelope[DeletionAnswer]
//	@Failure		401	{object}	ErrorEnvelope
//	@Failure		404	{object}	ErrorEnvelope
//	@Failure		422	{object}	ErrorEnvelope
//	@Failure		502	{object}	ErrorEnvelope
//	@Failure		503	{object}	ErrorEnvelope
//	@Router			/v1/tokens/{id} [delete]
func handleDeleteToken(v Vault, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := parseUUID(chi.URLParam(r, "id"))
		if !ok {
			ew.write(w, r, validation("path.id", "must be a UUID"))
			return
		}
		d, err := v.Delete(r.Context(), mustCaller(r), id)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		encode(w, http.StatusOK, deletionAnswer(d))
	}
}

func deletionAnswer(d vault.Deletion) DeletionAnswer {
	return DeletionAnswer{Message: d.Message, PersistentTokenID: d.ID, TokenDeleted: d.TokenDeleted,
		SessionRevoked: d.SessionRevoked, HadSharedSession: d.HadSharedSession}
}

// parseUUID accepts a UUID in any of its usual forms and returns the canonical
// lower-case hyphenated text that the database returns.
func parseUUID(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	if len(s) == 36 && !strings.ContainsAny(s, "ABCDEF") {
		// Already canonical (uuid.Parse took the 8-4-4-4-12 form, all lowercase): the
		// string itself, without formatting a copy on every request.
		return s, true
	}
	return u.String(), true
}

// requiredUUID reads a required UUID query parameter.
func requiredUUID(r *http.Request, name string) (string, error) {
	return requiredUUIDIn(r.URL.Query(), name)
}

// requiredUUIDIn is requiredUUID on a query already parsed.
func requiredUUIDIn(q url.Values, name string) (string, error) {
	v := q.Get(name)
	if v == "" {
		return "", validation("query."+name, "field required")
	}
	id, ok := parseUUID(v)
	if !ok {
		return "", validation("query."+name, "must be a UUID")
	}
	return id, nil
}

// optionalUUID reads an optional UUID query parameter ("" when absent).
func optionalUUID(r *http.Request, name string) (string, error) {
	if r.URL.Query().Get(name) == "" {
		return "", nil
	}
	return requiredUUID(r, name)
}
