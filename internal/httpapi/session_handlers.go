package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/auth-manager/auth-manager/internal/backchannel"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/sessions"
)

// Sessions is what the session endpoints need.
type Sessions interface {
	List(ctx context.Context, c caller.Caller, userID string) ([]sessions.Session, error)
	Revoke(ctx context.Context, c caller.Caller, sid, typ string) (sessions.Revocation, error)
}

// Backchannel is what the back-channel logout receiver endpoint needs.
type Backchannel interface {
	Logout(ctx context.Context, logoutToken string) (backchannel.Logout, error)
}

// SessionInfo is a Keycloak session with the stored tokens bound to it.
type SessionInfo struct {
	SessionID      string    `json:"session_id" example:"TqJvgiq-aeFLrP7yRgHbCMSe"`
	Type           string    `json:"type" enums:"online,offline" example:"online"`
	StartedAt      time.Time `json:"started_at" format:"date-time"`
	LastAccessAt   time.Time `json:"last_access_at" format:"date-time"`
	IPAddress      string    `json:"ip_address" example:"10.0.0.7"`
	Clients        []string  `json:"clients" example:"auth-manager"`
	StoredTokenIDs []string  `json:"stored_token_ids" example:"0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f"`
} // @name SessionInfo

// SessionRevocationAnswer reports what a session revocation did.
type SessionRevocationAnswer struct {
	SessionID     string   `json:"session_id" example:"TqJvgiq-aeFLrP7yRgHbCMSe"`
	Revoked       bool     `json:"revoked" example:"true"`
	Ended         []string `json:"ended" example:"online"`
	TokensDeleted int      `json:"tokens_deleted" example:"1"`
	Message       string   `json:"message" example:"Keycloak session ended (online); 1 stored token deleted"`
} // @name SessionRevocationAnswer

// BackchannelLogoutAnswer reports what a back-channel logout did at once.
type BackchannelLogoutAnswer struct {
	TokensDeleted int  `json:"tokens_deleted" example:"1"`
	Reconciling   bool `json:"reconciling" example:"true"`
} // @name BackchannelLogoutAnswer

// handleListSessions lists the caller's Keycloak sessions.
//
//	@Summary		List Keycloak sessions
//	@Description	The caller's Keycloak sessions as the admin API reports them: online sessions, then offline sessions holding an offline token of this service's client. Each carries the ids of the stored tokens bound to it (refresh tokens to online sessions, offline tokens to offline ones). Keycloak gives an offline session the id of the login it was created from, so one session_id may appear twice, once per type. A service caller may pass user_id; a user caller passing another user's id gets 403. For a service caller the listing holds only sessions of this service's own client (KEYCLOAK_CLIENT_ID) and sessions the vault holds stored tokens of; any other session of the realm is left out.
//	@ID				listSessions
//	@Tags			sessions
//	@Security		Bearer
//	@Produce		json
//	@Param			user_id	query		string	false	"user id (service callers)"	format(uuid)
//	@Success		200		{object}	DataEnvelope[[]SessionInfo]
//	@Failure		401		{object}	ErrorEnvelope
//	@Failure		403		{object}	ErrorEnvelope
//	@Failure		422		{object}	ErrorEnvelope
//	@Failure		502		{object}	ErrorEnvelope
//	@Failure		503		{object}	ErrorEnvelope
//	@Router			/v1/sessions [get]
func handleListSessions(s Sessions, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		userID, err := optionalUUID(r, "user_id")
		if err != nil {
			ew.write(w, r, err)
			return
		}
		list, err := s.List(r.Context(), mustCaller(r), userID)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		out := make([]SessionInfo, 0, len(list))
		for _, ss := range list {
			out = append(out, SessionInfo{SessionID: ss.ID, Type: ss.Type, StartedAt: ss.Start, LastAccessAt: ss.LastAccess,
				IPAddress: ss.IPAddress, Clients: ss.Clients, StoredTokenIDs: ss.StoredTokenIDs})
		}
		encode(w, http.StatusOK, out)
	}
}

// handleRevokeSession ends a Keycloak session and deletes its stored tokens.
//
//	@Summary		Revoke a Keycloak session
//	@Description	Ends the Keycloak session (online and offline, or only the type given) and then deletes the stored tokens bound to it (refresh tokens for the online session, offline tokens for the offline one). Keycloak ends the online session of the same id along with an offline session, so type=offline deletes both kinds of tokens; type=online leaves the offline session and its tokens alone. A user caller may only name a session Keycloak lists as theirs (or one that has ended but still has stored tokens of theirs bound to it); any other id answers 404 session_not_found. A service caller may name only a session of this service's own client (KEYCLOAK_CLIENT_ID) or one the vault holds stored tokens of; any other session of the realm answers 404 session_not_found. When Keycloak cannot end the session nothing is deleted (502/503). revoked is true when no such session is left at Keycloak; ended lists the types this call ended; a failure to delete the rows after the session ended is reported in message.
//	@ID				deleteSession
//	@Tags			sessions
//	@Security		Bearer
//	@Produce		json
//	@Param			session_id	path		string	true	"Keycloak session id"
//	@Param			type		query		string	false	"only this type of session"	Enums(online, offline)
//	@Success		200			{object}	DataEnvelope[SessionRevocationAnswer]
//	@Failure		401			{object}	ErrorEnvelope
//	@Failure		404			{object}	ErrorEnvelope	"session_not_found"
//	@Failure		422			{object}	ErrorEnvelope
//	@Failure		502			{object}	ErrorEnvelope
//	@Failure		503			{object}	ErrorEnvelope
//	@Router			/v1/sessions/{session_id} [delete]
func handleRevokeSession(s Sessions, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sid := chi.URLParam(r, "session_id")
		if !keycloak.ValidSessionID(sid) {
			ew.write(w, r, validation("path.session_id", "not a Keycloak session id"))
			return
		}
		typ := r.URL.Query().Get("type")
		if typ != "" && typ != sessions.Online && typ != sessions.Offline {
			ew.write(w, r, validation("query.type", "must be online or offline"))
			return
		}
		rev, err := s.Revoke(r.Context(), mustCaller(r), sid, typ)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		ended := rev.Ended
		if ended == nil {
			ended = []string{}
		}
		encode(w, http.StatusOK, SessionRevocationAnswer{SessionID: rev.SessionID, Revoked: rev.Revoked, Ended: ended,
			TokensDeleted: rev.TokensDeleted, Message: rev.Message})
	}
}

// handleBackchannelLogout receives Keycloak's back-channel logout notices.
//
//	@Summary		Back-channel logout receiver (Keycloak calls it)
//	@Description	OpenID Connect Back-Channel Logout 1.0. No bearer token: the logout token is the proof. It must be signed with a key of the realm's JWKS, issued by the realm to this service's client (aud), fresh (iat within 5 minutes; exp, when present, not passed), carry the back-channel logout event, carry sid or sub, carry no nonce, and its jti must not have been seen before (on any replica). The stored refresh tokens bound to session sid (or all of user sub's when no sid is given; the offline tokens too when the token says revoke_offline_access) are deleted at once and their cached access tokens dropped on every replica. A moment later the user's stored tokens are reconciled with the sessions Keycloak still has (reconciling: true): refresh tokens bound to an online session that is gone, and offline tokens bound to an offline session that is gone, are deleted. That covers what the notice does not say: an offline session outlives the logout of the login it came from (its tokens are kept), Keycloak sends the same notice when an offline session is ended, and its sign-out of a user ends every session but notifies one. Configure this URL as the client's Backchannel logout URL in Keycloak, with Backchannel logout session required on.
//	@ID				backchannelLogout
//	@Tags			sessions
//	@Accept			x-www-form-urlencoded
//	@Produce		json
//	@Param			logout_token	formData	string	true	"the logout token (a JWT)"
//	@Success		200				{object}	DataEnvelope[BackchannelLogoutAnswer]
//	@Failure		400				{object}	ErrorEnvelope	"invalid_request (reason: missing, malformed, wrong_type, invalid_signature, wrong_issuer, wrong_audience, expired, stale, not_logout, nonce, no_subject, no_jti, replayed)"
//	@Failure		413				{object}	ErrorEnvelope
//	@Failure		429				{object}	ErrorEnvelope	"rate_limited: too many logout tokens whose signature did not verify from the client's address (Retry-After), and this one's does not either; never for a token whose signature verifies"
//	@Failure		502				{object}	ErrorEnvelope
//	@Failure		503				{object}	ErrorEnvelope
//	@Router			/v1/backchannel-logout [post]
func handleBackchannelLogout(s Backchannel, limit *failureLimiter, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ct := strings.ToLower(r.Header.Get("Content-Type"))
		if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			limit.refused(w, r, ew, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Reason: "malformed",
				Message: "Expected a form (application/x-www-form-urlencoded) with logout_token"})
			return
		}
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				limit.refused(w, r, ew, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "validation_error", Message: "Request body too large"})
				return
			}
			limit.refused(w, r, ew, &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Reason: "malformed", Message: "Malformed form body"})
			return
		}
		raw := r.PostForm.Get("logout_token")
		out, err := s.Logout(r.Context(), raw)
		switch {
		case raw != "" && errors.Is(err, backchannel.ErrUnverified):
			// A form without a token is not counted: it has nothing to check and costs
			// nothing, and it is how doctor asks whether an auth-manager answers here.
			limit.refused(w, r, ew, err)
		case err != nil:
			ew.write(w, r, err)
		default:
			encode(w, http.StatusOK, BackchannelLogoutAnswer{TokensDeleted: out.TokensDeleted, Reconciling: out.Reconciling})
		}
	}
}
