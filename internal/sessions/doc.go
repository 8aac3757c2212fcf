// Package sessions makes the vault and Keycloak's sessions agree. It lists a user's
// Keycloak sessions, online and offline, joined with the stored tokens bound to them;
// revokes a session in Keycloak and then deletes its rows; receives OpenID Connect
// Back-Channel Logout notices from Keycloak and deletes the rows of the session that
// ended. (The offline keep-alive and clean-up job is package keepalive.)
//
// Who owns a session is decided by Keycloak's session lists and the vault, never by a
// session or user id taken from a request. A logout token is acted on only after its
// signature, issuer, audience, freshness, event and one-time jti have been verified.
// It must never log or return a token.
package sessions
