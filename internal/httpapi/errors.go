package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/auth-manager/auth-manager/internal/introspect"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/offline"
	"github.com/auth-manager/auth-manager/internal/sessions"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// apiError is an error that already knows its place in the envelope. Handlers build
// them for input problems; writeError maps everything else.
type apiError struct {
	status  int
	code    string
	msg     string
	reason  string
	details map[string]any
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

// validation is a 422 for one field (query.id, body.refresh_token, …).
func validation(field, problem string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, code: "validation_error",
		msg: "Validation error", details: map[string]any{field: problem}}
}

func invalidRequest(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", msg: msg}
}

// classify maps any error to its envelope. Unknown errors become internal_error; the
// real cause goes to the log only.
func classify(err error) *apiError {
	var ae *apiError
	var ke *keycloak.Error
	var invalidToken *vault.InvalidTokenError
	var stateErr *offline.StateError
	var callbackErr *offline.CallbackError
	var logoutErr *sessions.LogoutTokenError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &stateErr):
		return &apiError{status: http.StatusBadRequest, code: "invalid_ack_state", msg: stateMessage(stateErr.Reason), reason: stateErr.Reason}
	case errors.As(err, &callbackErr):
		return &apiError{status: http.StatusBadGateway, code: "keycloak_callback_error", msg: "Keycloak reported an error to the consent callback",
			reason: callbackErr.Code, details: map[string]any{"error": callbackErr.Code, "error_description": callbackErr.Description}}
	case errors.Is(err, offline.ErrMissingCode):
		return validation("query.code", "field required")
	case errors.Is(err, offline.ErrNotOffline):
		return &apiError{status: http.StatusBadGateway, code: "keycloak_error", reason: "not_offline",
			msg: "Keycloak did not issue an offline token (does the user have the offline_access role?)"}
	case errors.Is(err, offline.ErrIDToken):
		return &apiError{status: http.StatusBadGateway, code: "keycloak_error", reason: "invalid_id_token",
			msg: "Keycloak's ID token was missing or invalid"}
	case errors.As(err, &logoutErr):
		return &apiError{status: http.StatusBadRequest, code: "invalid_request", msg: "Invalid logout token", reason: logoutErr.Reason}
	case errors.Is(err, sessions.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: "session_not_found", msg: "Session not found"}
	case errors.Is(err, vault.ErrNotFound):
		return &apiError{status: http.StatusNotFound, code: "token_not_found", msg: "Token not found"}
	case errors.Is(err, vault.ErrForbidden):
		return &apiError{status: http.StatusForbidden, code: "forbidden", msg: "Not allowed for this caller"}
	case errors.Is(err, vault.ErrUnusable):
		return &apiError{status: http.StatusConflict, code: "token_unusable",
			msg: "The stored token can no longer be used; store a new one"}
	case errors.Is(err, vault.ErrNoSession):
		return invalidRequest("The caller's token has no session id (sid)")
	case errors.As(err, &invalidToken):
		return validation("body.refresh_token", invalidToken.Problem)
	case errors.Is(err, introspect.ErrNotActive):
		return &apiError{status: 401, code: "token_not_active", msg: "Token is not active"}
	case errors.Is(err, introspect.ErrUnauthorized):
		return &apiError{status: 401, code: "unauthorized", msg: "Invalid or missing bearer token"}
	case errors.As(err, &ke) && ke.Status < 500:
		return &apiError{status: http.StatusBadGateway, code: "keycloak_error", msg: "Keycloak refused the request",
			reason: ke.Code, details: map[string]any{"error": ke.Code, "error_description": ke.Description}}
	case errors.Is(err, keycloak.ErrUnavailable):
		return &apiError{status: http.StatusServiceUnavailable, code: "service_unavailable",
			msg: "Keycloak is unavailable", details: map[string]any{"keycloak": "unavailable"}}
	case errors.Is(err, store.ErrUnavailable):
		return &apiError{status: http.StatusServiceUnavailable, code: "service_unavailable",
			msg: "Database is unavailable", details: map[string]any{"database": "disconnected"}}
	case errors.Is(err, store.ErrDatabase):
		return &apiError{status: http.StatusBadGateway, code: "database_error", msg: "Database error"}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, code: "service_unavailable", msg: "Timed out waiting for a dependency"}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal_error", msg: "Internal error"}
}

// errorWriter writes the failure envelope and logs the cause.
type errorWriter struct{ log *slog.Logger }

func (ew errorWriter) write(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	// ERROR is for our own faults; a dependency that is down or refuses (502/503) is a
	// WARN, and a deliberate 503 (draining) is covered by that too.
	level := slog.LevelInfo
	switch {
	case ae.status == http.StatusBadGateway || ae.status == http.StatusServiceUnavailable:
		level = slog.LevelWarn
	case ae.status >= 500:
		level = slog.LevelError
	}
	ew.log.Log(r.Context(), level, "request failed", "request_id", requestID(r.Context()),
		"code", ae.code, "status", ae.status, "error", err.Error())
	env := ErrorEnvelope{Error: ae.msg, Code: ae.code, Details: ae.details}
	if ae.reason != "" {
		reason := ae.reason
		env.Reason = &reason
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="auth-manager"`)
	}
	writeJSON(w, ae.status, env)
}
