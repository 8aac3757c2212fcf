package problem

import (
	"context"
	"errors"
	"net/http"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
)

// Error is an error in the contract's envelope: {"error": Message, "code": Code,
// "reason": Reason, "details": Details} with HTTP status Status.
type Error struct {
	Status  int
	Code    string
	Message string         // public, fixed wording; never input, never a secret
	Reason  string         // optional machine-readable refinement of Code
	Details map[string]any // optional; safe to show
	cause   error
}

// New returns a sentinel: compare with errors.Is, refine with With.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// Unwrap returns the sentinel e refines, so errors.Is(e.With(…), sentinel) holds.
func (e *Error) Unwrap() error { return e.cause }

// With returns a refinement of the sentinel e: same status and code, with a reason and
// details (either may be empty), still errors.Is e.
func (e *Error) With(reason string, details map[string]any) *Error {
	return &Error{Status: e.Status, Code: e.Code, Message: e.Message, Reason: reason, Details: details, cause: e}
}

// Saying is With and a more precise public message.
func (e *Error) Saying(message, reason string, details map[string]any) *Error {
	r := e.With(reason, details)
	r.Message = message
	return r
}

// Sentinels of the contract that belong to no one feature.
var (
	// ErrValidation is 422 validation_error; Validation names the field.
	ErrValidation = New(http.StatusUnprocessableEntity, "validation_error", "Validation error")
	// ErrInvalidRequest is 400 invalid_request.
	ErrInvalidRequest = New(http.StatusBadRequest, "invalid_request", "Invalid request")
	// ErrInternal is 500 internal_error: the cause is for the log only.
	ErrInternal = New(http.StatusInternalServerError, "internal_error", "Internal error")
)

// Validation is a 422 about one field ("body.refresh_token", "query.id", …).
func Validation(field, why string) *Error {
	return ErrValidation.With("", map[string]any{field: why})
}

// InvalidRequest is a 400 invalid_request with its own message.
func InvalidRequest(message string) *Error { return ErrInvalidRequest.Saying(message, "", nil) }

var (
	keycloakUnavailable = New(http.StatusServiceUnavailable, "service_unavailable", "Keycloak is unavailable").
				With("", map[string]any{"keycloak": "unavailable"})
	databaseUnavailable = New(http.StatusServiceUnavailable, "service_unavailable", "Database is unavailable").
				With("", map[string]any{"database": "disconnected"})
	databaseError = New(http.StatusBadGateway, "database_error", "Database error")
	timeout       = New(http.StatusServiceUnavailable, "service_unavailable", "Timed out waiting for a dependency")
	keycloakError = New(http.StatusBadGateway, "keycloak_error", "Keycloak refused the request")
)

// Of returns err's envelope. This is the one table from errors to codes: an *Error in
// err's chain answers for itself; the lower packages' sentinels (Keycloak, database,
// deadlines) are mapped here; anything else is internal_error.
func Of(err error) *Error {
	var pe *Error
	var ke *keycloak.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &ke) && ke.Status < 500:
		return keycloakError.With(ke.Code, map[string]any{"error": ke.Code, "error_description": ke.Description})
	case errors.Is(err, keycloak.ErrUnavailable):
		return keycloakUnavailable
	case errors.Is(err, store.ErrUnavailable):
		return databaseUnavailable
	case errors.Is(err, store.ErrDatabase):
		return databaseError
	case errors.Is(err, context.DeadlineExceeded):
		return timeout
	}
	return ErrInternal
}

// Code names err for the audit trail: its envelope code, and its reason after a colon
// when it has one (keycloak_error:invalid_grant, invalid_ack_state:expired). "" for nil.
func Code(err error) string {
	p := Of(err)
	switch {
	case p == nil:
		return ""
	case p.Reason != "":
		return p.Code + ":" + p.Reason
	}
	return p.Code
}
