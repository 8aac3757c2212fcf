package client

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a failed call: auth-manager's error envelope, or (Code CodeUnreachable)
// no answer at all. Every error a call returns for a failed request is an *Error: get
// it with errors.As, test for the common cases with errors.Is and the Err* values, and
// compare Code with the Code* constants for the rest (or switch on CodeOf). It never
// carries a token.
type Error struct {
	// Status is the HTTP status; 0 when the service did not answer.
	Status int
	// Code is the envelope's machine code, one of the Code* constants
	// (CodeTokenNotFound, CodeKeycloakError, …), or a client code (CodeUnreachable,
	// CodeWrongAudience). Empty when the answer was not an envelope (e.g. a proxy's
	// error page).
	Code string
	// Message is the envelope's human message.
	Message string
	// Reason refines some codes (e.g. Keycloak's error for keycloak_error).
	Reason string
	// Details is the envelope's details: the failing field for validation_error,
	// Keycloak's "error" and "error_description" for keycloak_error.
	Details map[string]any
	// RequestID is the answer's X-Request-ID: quote it when reporting a problem.
	RequestID string
	// RetryAfter is the answer's Retry-After, when it had one.
	RetryAfter time.Duration

	err error // the transport error, for CodeUnreachable
}

// Sentinels for errors.Is; each matches an *Error by its code.
var (
	// ErrNotFound: no stored token (token_not_found) or session (session_not_found) with
	// that id that this caller may see.
	ErrNotFound = errors.New("auth-manager: not found")
	// ErrUnauthorized: the caller's own token was missing, rejected or not active
	// (unauthorized, token_not_active).
	ErrUnauthorized = errors.New("auth-manager: caller not authenticated")
	// ErrForbidden: the caller is authenticated but may not do this (forbidden,
	// scope_not_granted, audience_not_allowed).
	ErrForbidden = errors.New("auth-manager: forbidden")
	// ErrTokenUnusable: the stored token can no longer be used; the user must store a
	// new one (token_unusable).
	ErrTokenUnusable = errors.New("auth-manager: stored token unusable")
	// ErrKeycloak: Keycloak refused or failed (keycloak_error, keycloak_callback_error);
	// Details holds Keycloak's error and error_description. An invalid_grant means the
	// user's session is gone: the user must sign in again.
	ErrKeycloak = errors.New("auth-manager: Keycloak refused")
	// ErrUnavailable: auth-manager or a dependency is down (service_unavailable, any
	// 503) or the service did not answer (CodeUnreachable). Worth retrying later.
	ErrUnavailable = errors.New("auth-manager: unavailable")
	// ErrRateLimited: too many failed requests from this client address (rate_limited);
	// RetryAfter says when to try again.
	ErrRateLimited = errors.New("auth-manager: rate limited")
)

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("auth-manager: ")
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status) + " ")
	}
	if e.Code != "" {
		b.WriteString(e.Code + ": ")
	}
	b.WriteString(e.Message)
	if e.err != nil {
		b.WriteString(": " + e.err.Error())
	}
	if e.RequestID != "" {
		b.WriteString(" (request " + e.RequestID + ")")
	}
	return b.String()
}

// Unwrap returns the transport error of an unreachable service.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether the error is of the kind target names (ErrNotFound, …).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == CodeTokenNotFound || e.Code == CodeSessionNotFound
	case ErrUnauthorized:
		return e.Code == CodeUnauthorized || e.Code == CodeTokenNotActive
	case ErrForbidden:
		return e.Code == CodeForbidden || e.Code == CodeScopeNotGranted || e.Code == CodeAudienceNotAllowed
	case ErrTokenUnusable:
		return e.Code == CodeTokenUnusable
	case ErrKeycloak:
		return e.Code == CodeKeycloakError || e.Code == CodeKeycloakCallbackError
	case ErrUnavailable:
		return e.Code == CodeUnreachable || e.Status == http.StatusServiceUnavailable
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// CodeOf returns the Code of the *Error in err's chain, or "" when there is none (nil,
// or an error that is not about a request, like a bad base URL).
//
//	switch client.CodeOf(err) {
//	case client.CodeTooManyTokens: …
//	}
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// envelope is auth-manager's failure answer.
type envelope struct {
	Error   string         `json:"error"`
	Code    string         `json:"code"`
	Reason  *string        `json:"reason"`
	Details map[string]any `json:"details"`
}

// decodeError reads a failure answer. A body that is not the envelope (a proxy's page)
// still gives an *Error with the status; its content is not echoed.
func decodeError(resp *http.Response, raw []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID"),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var env envelope
	if json.Unmarshal(raw, &env) != nil || env.Code == "" {
		e.Message = fmt.Sprintf("unexpected answer (%s)", http.StatusText(resp.StatusCode))
		return e
	}
	e.Code, e.Message, e.Details = env.Code, env.Error, env.Details
	if env.Reason != nil {
		e.Reason = *env.Reason
	}
	return e
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// audienceIs reports whether the JWT's aud claim is exactly audience. It reads the
// claim without verifying the signature: it checks what the service answered, it does
// not decide whom to trust.
func audienceIs(jwt, audience string) bool {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return false
	}
	var one string
	if json.Unmarshal(claims.Aud, &one) == nil {
		return one == audience
	}
	var many []string
	return json.Unmarshal(claims.Aud, &many) == nil && len(many) == 1 && many[0] == audience
}
