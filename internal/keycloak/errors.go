package keycloak

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrUnavailable means Keycloak could not be reached, timed out, or answered with a
// server error. It is transient: the same call may succeed later.
var ErrUnavailable = errors.New("keycloak: unavailable")

// Error is a refusal from Keycloak: an OAuth error answer (invalid_grant,
// invalid_client, …) or an unexpected status. It carries Keycloak's own error code
// and description, which are safe to show a caller; never a token.
type Error struct {
	Op          string // the call that failed, e.g. "introspect"
	Status      int    // HTTP status from Keycloak
	Code        string // OAuth "error", e.g. invalid_grant
	Description string // OAuth "error_description"
}

func (e *Error) Error() string {
	return fmt.Sprintf("keycloak: %s: %d %s: %s", e.Op, e.Status, e.Code, e.Description)
}

// Is lets errors.Is(err, ErrUnavailable) hold for server errors, which are transient.
func (e *Error) Is(target error) bool { return target == ErrUnavailable && e.Status >= 500 }

// IsInvalidGrant reports whether err is Keycloak's permanent refusal of a grant: the
// token was revoked, its session ended, it was reused, or it belongs to another client.
func IsInvalidGrant(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "invalid_grant"
}

// oauthError is the body of an OAuth error answer.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// newError builds an *Error from a non-2xx answer. body is read by the caller with a
// size limit; only Keycloak's error fields are kept from it.
func newError(op string, status int, body []byte) *Error {
	var oe oauthError
	_ = json.Unmarshal(body, &oe)
	if oe.Error == "" {
		oe.Error = "unexpected_status"
	}
	if len(oe.Description) > 300 {
		oe.Description = oe.Description[:300]
	}
	return &Error{Op: op, Status: status, Code: oe.Error, Description: oe.Description}
}
