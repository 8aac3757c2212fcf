package client

// The codes of auth-manager's error envelope: Error.Code is one of them, or one of the
// client's own (CodeUnreachable, CodeWrongAudience). The service's OpenAPI document
// lists the same set as the enum of ErrorEnvelope.code. Compare with ==, or switch on
// CodeOf(err).
const (
	// CodeUnauthorized (401): no bearer token, not "Bearer", or the token was rejected.
	CodeUnauthorized = "unauthorized"
	// CodeTokenNotActive (401): Keycloak says the caller's token is not active.
	CodeTokenNotActive = "token_not_active"
	// CodeForbidden (403): the caller is authenticated but lacks the role the
	// endpoint needs (e.g. a user passing another user's user_id).
	CodeForbidden = "forbidden"
	// CodeScopeNotGranted (403): a narrowed token asked for a scope the stored token
	// was never granted.
	CodeScopeNotGranted = "scope_not_granted"
	// CodeAudienceNotAllowed (403): a narrowed token asked for an audience the
	// operator does not allow for this caller.
	CodeAudienceNotAllowed = "audience_not_allowed"
	// CodeTokenNotFound (404): no stored token with that id that the caller may see
	// (a deleted id and another user's answer alike).
	CodeTokenNotFound = "token_not_found"
	// CodeSessionNotFound (404): no Keycloak session with that id that the caller may
	// end.
	CodeSessionNotFound = "session_not_found"
	// CodeNotFound (404): no such endpoint (a wrong base URL or path prefix).
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed (405): the endpoint exists but not with this method.
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeInvalidRequest (400): understood but not acceptable, e.g. the caller's
	// token has no sub or sid.
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidAckState (400): the offline-consent state is missing, forged,
	// expired or already used.
	CodeInvalidAckState = "invalid_ack_state"
	// CodeValidationError (422, or 413 for a body too large): a malformed parameter
	// or body; Details maps the field ("query.id", "body.refresh_token") to a message.
	CodeValidationError = "validation_error"
	// CodeTokenUnusable (409): the stored token cannot be used (integrity tag, unknown
	// key, or a legacy row whose claims do not match it); store a new one.
	CodeTokenUnusable = "token_unusable"
	// CodeRotationEnabled (409): the realm rotates refresh tokens, so the operation
	// (offline reissue) would leave two rows on one token chain; Reason says what to
	// do instead.
	CodeRotationEnabled = "rotation_enabled"
	// CodeTooManyTokens (409): the user already has as many stored tokens as the
	// operator allows (AUTH_MANAGER_MAX_TOKENS_PER_USER).
	CodeTooManyTokens = "too_many_tokens"
	// CodeRateLimited (429): too many failed or unauthenticated requests from this
	// client address; Error.RetryAfter says when to try again.
	CodeRateLimited = "rate_limited"
	// CodeInternalError (500): anything else; quote Error.RequestID.
	CodeInternalError = "internal_error"
	// CodeKeycloakError (502): Keycloak refused or failed; Details carries Keycloak's
	// "error" and "error_description", Reason its error. Reason "invalid_grant" means
	// the user's session is gone: the user must sign in again.
	CodeKeycloakError = "keycloak_error"
	// CodeKeycloakCallbackError (502): Keycloak redirected to the consent callback
	// with an error.
	CodeKeycloakCallbackError = "keycloak_callback_error"
	// CodeDatabaseError (502): auth-manager's database failed.
	CodeDatabaseError = "database_error"
	// CodeServiceUnavailable (503): a dependency is down or auth-manager is shutting
	// down; retried by the client (RetryPolicy).
	CodeServiceUnavailable = "service_unavailable"
)

// Codes the client sets itself: they never come from the service.
const (
	// CodeUnreachable is the Code of an Error for a call that got no answer: the
	// connection failed or broke. The underlying error is available through errors.As.
	CodeUnreachable = "unreachable"
	// CodeWrongAudience is the Code of an Error for a narrowed token (WithAudience)
	// whose aud is not exactly the audience asked for: the client drops such a token.
	CodeWrongAudience = "wrong_audience"
)
