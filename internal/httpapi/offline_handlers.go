package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/offline"
	"github.com/auth-manager/auth-manager/internal/problem"
	"github.com/auth-manager/auth-manager/internal/reqctx"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// Offline is what the offline-token endpoints need.
type Offline interface {
	Start(ctx context.Context, c caller.Caller) (offline.Consent, error)
	Finish(ctx context.Context, cb offline.Callback) (offline.Stored, error)
	Reissue(ctx context.Context, c caller.Caller) (offline.Stored, error)
	Revoke(ctx context.Context, c caller.Caller, id string) (vault.Deletion, error)
}

// ConsentAnswer is a started offline consent.
type ConsentAnswer struct {
	ConsentURL     string `json:"consent_url" example:"http://127.0.0.1:8080/realms/auth-manager/protocol/openid-connect/auth?client_id=auth-manager&code_challenge=...&code_challenge_method=S256&nonce=...&redirect_uri=...&response_type=code&scope=openid+profile+email+offline_access&state=..."`
	SessionStateID string `json:"session_state_id" example:"bUZxJtpPkTMpEOgXfV6QJ6Kh"`
	Message        string `json:"message" example:"Open consent_url in a browser within 600 seconds to grant offline access"`
} // @name ConsentAnswer

// OfflineTokenAnswer names a stored offline token and its Keycloak offline session.
type OfflineTokenAnswer struct {
	PersistentTokenID string `json:"persistent_token_id" example:"0b7f6c1e-3f1a-4d3c-9d4e-2a1b3c4d5e6f"`
	SessionStateID    string `json:"session_state_id" example:"bUZxJtpPkTMpEOgXfV6QJ6Kh"`
} // @name OfflineTokenAnswer

// handleOfflineConsent starts an offline consent for the caller.
//
//	@Summary		Start an offline-token consent
//	@Description	Returns the URL of the realm's authorization endpoint (from discovery) at which the caller's user grants this service offline access: response_type=code, scope=openid profile email offline_access, redirect_uri=KEYCLOAK_CONSENT_REDIRECT_URI, PKCE (S256), a nonce, and a state signed with STATE_TOKEN_SECRET that names the user and session, expires after STATE_TOKEN_EXPIRY and works once. The PKCE verifier and nonce stay on the server. Needs a user caller with a session (sid).
//	@ID				startOfflineConsent
//	@Tags			offline
//	@Security		Bearer
//	@Produce		json
//	@Success		200	{object}	DataEnvelope[ConsentAnswer]
//	@Failure		400	{object}	ErrorEnvelope	"invalid_request: caller token has no sid"
//	@Failure		401	{object}	ErrorEnvelope
//	@Failure		409	{object}	ErrorEnvelope	"too_many_tokens: the user already holds AUTH_MANAGER_MAX_TOKENS_PER_USER stored tokens"
//	@Failure		502	{object}	ErrorEnvelope
//	@Failure		503	{object}	ErrorEnvelope
//	@Router			/v1/offline-token [get]
func handleOfflineConsent(o Offline, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := o.Start(r.Context(), mustCaller(r))
		if err != nil {
			ew.write(w, r, err)
			return
		}
		encode(w, http.StatusOK, ConsentAnswer{ConsentURL: c.URL, SessionStateID: c.SessionID,
			Message: fmt.Sprintf("Open consent_url in a browser within %d seconds to grant offline access", int(c.ExpiresIn.Seconds()))})
	}
}

// handleConsentCallback finishes an offline consent: Keycloak redirects the browser here.
//
//	@Summary		Offline-consent callback (Keycloak redirects the browser here)
//	@Description	No bearer token: the signed state says who asked. The state must be valid, unexpired and unused (it is spent by its first use, even a failed one). The code is exchanged with the PKCE verifier kept on the server, the ID token's nonce and subject are checked against the state's user (a login of another user is refused and the token obtained revoked), and the offline token is stored as a new OFFLINE row bound to its Keycloak offline session. When KEYCLOAK_AFTER_CONSENT_REDIRECT_URI is set, every outcome is a 302 to it instead, with persistent_token_id and session_state_id, or error (the envelope code), error_description and, where known, reason as query parameters.
//	@ID				offlineConsentCallback
//	@Tags			offline
//	@Produce		json
//	@Param			code				query		string	false	"authorization code"
//	@Param			state				query		string	true	"the state of the consent URL"
//	@Param			error				query		string	false	"Keycloak's error (e.g. access_denied)"
//	@Param			error_description	query		string	false	"Keycloak's description of the error"
//	@Success		200					{object}	DataEnvelope[OfflineTokenAnswer]
//	@Success		302					"to KEYCLOAK_AFTER_CONSENT_REDIRECT_URI, when set"
//	@Failure		400					{object}	ErrorEnvelope	"invalid_ack_state (reason: missing, malformed, expired, used, user_mismatch, nonce_mismatch)"
//	@Failure		409					{object}	ErrorEnvelope	"too_many_tokens: the user already holds AUTH_MANAGER_MAX_TOKENS_PER_USER stored tokens (the obtained offline token is revoked)"
//	@Failure		422					{object}	ErrorEnvelope	"validation_error: neither code nor error"
//	@Failure		429					{object}	ErrorEnvelope	"rate_limited: too many refused callbacks from the client's address (Retry-After); a redirect with error=rate_limited when KEYCLOAK_AFTER_CONSENT_REDIRECT_URI is set"
//	@Failure		502					{object}	ErrorEnvelope	"keycloak_callback_error, keycloak_error"
//	@Failure		503					{object}	ErrorEnvelope
//	@Router			/v1/offline-token/callback [get]
func handleConsentCallback(o Offline, afterConsent string, limit *failureLimiter, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var st offline.Stored
		var err error
		if limit.over(r) {
			// Refused before the state is looked at. Redirected like any other failure when
			// the browser goes back to the application; Retry-After only on the 429 itself
			// (on a redirect it would ask the browser to wait before following it).
			err = errRateLimited
			if afterConsent == "" {
				limit.retryAfter(w)
			}
		} else {
			q := r.URL.Query()
			st, err = o.Finish(r.Context(), offline.Callback{Code: q.Get("code"), State: q.Get("state"),
				Error: q.Get("error"), ErrorDescription: q.Get("error_description")})
			if pe := problem.Of(err); pe != nil && pe.Status >= 400 && pe.Status < 500 {
				// Whether answered as such or redirected, a refused callback is a failure.
				limit.count(r)
			}
		}
		switch {
		case afterConsent == "" && err != nil:
			ew.write(w, r, err)
		case afterConsent == "":
			encode(w, http.StatusOK, OfflineTokenAnswer{PersistentTokenID: st.ID, SessionStateID: st.SessionID})
		case err != nil:
			ae := problem.Of(err)
			level := slog.LevelInfo
			switch {
			case ae.Status == http.StatusInternalServerError:
				level = slog.LevelError
			case ae.Status >= 500:
				level = slog.LevelWarn
			}
			ew.log.LogAttrs(r.Context(), level, "consent failed; redirecting the browser",
				slog.String("request_id", reqctx.RequestID(r.Context())), slog.String("code", ae.Code),
				slog.Int("status", ae.Status), slog.String("error", err.Error()))
			v := url.Values{"error": {ae.Code}, "error_description": {ae.Message}}
			if ae.Reason != "" {
				v.Set("reason", ae.Reason)
			}
			redirectAfterConsent(w, afterConsent, v)
		default:
			redirectAfterConsent(w, afterConsent, url.Values{"persistent_token_id": {st.ID}, "session_state_id": {st.SessionID}})
		}
	}
}

// redirectAfterConsent sends the browser to target with v added to its query. Nothing
// secret is in v; the Referer of the callback URL (code, state) is withheld anyway.
func redirectAfterConsent(w http.ResponseWriter, target string, v url.Values) {
	u, err := url.Parse(target) // validated at start-up
	if err != nil {
		http.Error(w, "after-consent redirect is misconfigured", http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusFound)
}

// handleReissueOffline stores a new offline token from the caller's session's one.
//
//	@Summary		Obtain a new offline token from the caller's session's stored one
//	@Description	Finds the OFFLINE row of the caller's session (bound to it, or consented from it), refreshes its token at Keycloak under the row lock, and stores the new offline token as a new OFFLINE row of the same Keycloak offline session with attributes.from = the source row id. The source row keeps its token. No such row: 404. When the realm rotates refresh tokens (Revoke Refresh Token on, read from the admin API or set by KEYCLOAK_REFRESH_TOKEN_ROTATION) two rows would share one token chain and using either would break the other: 409 rotation_enabled, and the source row is left as it was.
//	@ID				reissueOfflineToken
//	@Tags			offline
//	@Security		Bearer
//	@Produce		json
//	@Success		200	{object}	DataEnvelope[OfflineTokenAnswer]
//	@Failure		400	{object}	ErrorEnvelope	"invalid_request: caller token has no sid"
//	@Failure		401	{object}	ErrorEnvelope
//	@Failure		404	{object}	ErrorEnvelope
//	@Failure		409	{object}	ErrorEnvelope	"token_unusable; rotation_enabled: the realm rotates refresh tokens (the reason says what to do instead); too_many_tokens: the user already holds AUTH_MANAGER_MAX_TOKENS_PER_USER stored tokens"
//	@Failure		502	{object}	ErrorEnvelope
//	@Failure		503	{object}	ErrorEnvelope	"service_unavailable: Keycloak or the database is unavailable or timed out; reason keycloak_busy: the refresh was shed because every AUTH_MANAGER_KEYCLOAK_CONCURRENCY slot of this replica stayed busy for KEYCLOAK_TIMEOUT; retry shortly"
//	@Router			/v1/offline-token-id [post]
func handleReissueOffline(o Offline, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, err := o.Reissue(r.Context(), mustCaller(r))
		if err != nil {
			ew.write(w, r, err)
			return
		}
		encode(w, http.StatusOK, OfflineTokenAnswer{PersistentTokenID: st.ID, SessionStateID: st.SessionID})
	}
}

// handleRevokeOffline deletes a stored offline token and ends its offline session.
//
//	@Summary		Delete a stored offline token and revoke its Keycloak offline session
//	@Description	Deletes the OFFLINE row, then revokes its token at Keycloak and ends its Keycloak offline session through the admin API, unless another stored OFFLINE row shares that session (then only the row goes: had_shared_session). Revoking the token first detaches only this service's client, so the browser session the consent came from (same id) stays signed in; a stored refresh token of that same session stops working, and the message names it. Owner or service caller; any other id, or the id of a refresh token, answers 404. When Keycloak fails after the row is gone the answer is still 200 with token_deleted true and session_revoked false, and the message says what failed.
//	@ID				deleteOfflineToken
//	@Tags			offline
//	@Security		Bearer
//	@Produce		json
//	@Param			id	query		string	true	"persistent token id"	format(uuid)
//	@Success		200	{object}	DataEnvelope[DeletionAnswer]
//	@Failure		401	{object}	ErrorEnvelope
//	@Failure		404	{object}	ErrorEnvelope
//	@Failure		422	{object}	ErrorEnvelope
//	@Failure		502	{object}	ErrorEnvelope
//	@Failure		503	{object}	ErrorEnvelope
//	@Router			/v1/offline-token-id [delete]
func handleRevokeOffline(o Offline, ew errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := requiredUUID(r, "id")
		if err != nil {
			ew.write(w, r, err)
			return
		}
		d, err := o.Revoke(r.Context(), mustCaller(r), id)
		if err != nil {
			ew.write(w, r, err)
			return
		}
		encode(w, http.StatusOK, deletionAnswer(d))
	}
}
