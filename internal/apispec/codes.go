package apispec

import "net/http"

// errorCode is one `code` of the failure envelope, as the contract (API.md) lists them,
// with an example answer for the docs.
type errorCode struct {
	status  int
	message string
	reason  string
	details map[string]any
}

// codes is the error vocabulary the spec documents, and the enum of the envelope's
// code. TestVocabularyCoversTheHandlers keeps it in step with the codes
// internal/httpapi writes; the Go client's constants (client/codes.go) are checked
// against the enum.
var codes = map[string]errorCode{
	"invalid_request":         {status: http.StatusBadRequest, message: "The caller's token has no session id (sid)"},
	"invalid_ack_state":       {status: http.StatusBadRequest, message: "The consent state has expired; start again", reason: "expired"},
	"unauthorized":            {status: http.StatusUnauthorized, message: "Invalid or missing bearer token"},
	"token_not_active":        {status: http.StatusUnauthorized, message: "Token is not active"},
	"forbidden":               {status: http.StatusForbidden, message: "Not allowed for this caller"},
	"scope_not_granted":       {status: http.StatusForbidden, message: "The stored token was not granted the scope asked for", reason: "phone"},
	"audience_not_allowed":    {status: http.StatusForbidden, message: "The audience is not allowed for this caller", reason: "orders-api"},
	"token_not_found":         {status: http.StatusNotFound, message: "Token not found"},
	"session_not_found":       {status: http.StatusNotFound, message: "Session not found"},
	"not_found":               {status: http.StatusNotFound, message: "No such endpoint"},
	"method_not_allowed":      {status: http.StatusMethodNotAllowed, message: "Method not allowed"},
	"token_unusable":          {status: http.StatusConflict, message: "The stored token can no longer be used; store a new one"},
	"rotation_enabled":        {status: http.StatusConflict, message: "The realm rotates refresh tokens", reason: "rotation_enabled"},
	"too_many_tokens":         {status: http.StatusConflict, message: "Too many stored tokens for this user"},
	"validation_error":        {status: http.StatusUnprocessableEntity, message: "Validation error", details: map[string]any{"query.id": "must be a UUID"}},
	"rate_limited":            {status: http.StatusTooManyRequests, message: "Too many requests"},
	"internal_error":          {status: http.StatusInternalServerError, message: "Internal error"},
	"keycloak_error":          {status: http.StatusBadGateway, message: "Keycloak refused the request", reason: "invalid_grant", details: map[string]any{"error": "invalid_grant", "error_description": "Session not active"}},
	"keycloak_callback_error": {status: http.StatusBadGateway, message: "Keycloak reported an error to the consent callback", reason: "access_denied", details: map[string]any{"error": "access_denied", "error_description": "User denied consent"}},
	"database_error":          {status: http.StatusBadGateway, message: "Database error"},
	"service_unavailable":     {status: http.StatusServiceUnavailable, message: "Keycloak is unavailable", details: map[string]any{"keycloak": "unavailable"}},
}

// defaultCodes are the codes a failure answer carries when its annotation names none.
var defaultCodes = map[int][]string{
	http.StatusBadRequest:            {"invalid_request"},
	http.StatusUnauthorized:          {"unauthorized", "token_not_active"},
	http.StatusForbidden:             {"forbidden"},
	http.StatusNotFound:              {"token_not_found"},
	http.StatusConflict:              {"token_unusable"},
	http.StatusRequestEntityTooLarge: {"validation_error"},
	http.StatusUnprocessableEntity:   {"validation_error"},
	http.StatusTooManyRequests:       {"rate_limited"},
	http.StatusInternalServerError:   {"internal_error"},
	http.StatusBadGateway:            {"keycloak_error", "database_error"},
	http.StatusServiceUnavailable:    {"service_unavailable"},
}
