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

// everyOperation are the failure answers the completion step adds to every operation
// that lacks them, with the response description it gives them: the middleware in
// front of every route answers them (internal/httpapi: recoverer and the error mapping,
// limitBody), whatever the handler's annotations say.
var everyOperation = map[int]string{
	http.StatusInternalServerError:   "internal_error: an unexpected failure; the cause is in the service's log under the request id (X-Request-ID)",
	http.StatusRequestEntityTooLarge: "validation_error: the request body is larger than HTTP_MAX_BODY_BYTES (every route answers it when Content-Length says so)",
}

// everyBearerOperation are the failure answers added to every operation with Bearer
// security that lacks them: requireCaller's failure limiter answers them.
var everyBearerOperation = map[int]string{
	http.StatusTooManyRequests: "rate_limited: too many failed authentications from the client's address (Retry-After), and this token fails the local check too (signature, issuer, type, exp); never to a token that passes that check",
}

// statusExamples replace a code's example when the code is answered with this status
// and a message of its own (413's validation_error is about the body's size, not a
// field).
var statusExamples = map[int]map[string]errorCode{
	http.StatusRequestEntityTooLarge: {
		"validation_error": {status: http.StatusRequestEntityTooLarge, message: "Request body too large", details: map[string]any{"body": "at most 65536 bytes"}},
	},
}

// operationExamples replace a code's example in one operation's failure answer (by
// operationId, then status) where its handler writes the envelope itself.
var operationExamples = map[string]map[int]map[string]errorCode{
	// internal/httpapi handleReady: the database does not answer (the contract's
	// example); while the server drains it says {"server": "shutting_down"} instead,
	// which the response's description names.
	"getReadiness": {http.StatusServiceUnavailable: {
		"service_unavailable": {status: http.StatusServiceUnavailable, message: "Database is unavailable", details: map[string]any{"database": "disconnected"}},
	}},
}
