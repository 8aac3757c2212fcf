// Package keycloak is the service's client for its Keycloak realm: OIDC discovery and
// JWKS through go-oidc, the token endpoint through golang.org/x/oauth2, and plain
// net/http for introspection, revocation and the admin REST API.
//
// Every call has a deadline and goes through one shared http.Client. Failures are
// classified once, here: ErrUnavailable for a Keycloak that cannot be reached or
// answers 5xx, *Error for a refusal. It must never put a token into an error, a log
// line or a URL.
package keycloak
