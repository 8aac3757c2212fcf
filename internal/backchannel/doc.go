// Package backchannel receives OpenID Connect Back-Channel Logout notices from
// Keycloak: it verifies the logout token (signature, issuer, audience, freshness,
// event, one-time jti), deletes the stored tokens of the session that ended, and then
// reconciles the user's stored tokens with the sessions Keycloak still has.
//
// A logout token is acted on only after it has been verified, and the rows it deletes
// are chosen by the vault and Keycloak's session lists, never by ids taken from the
// request alone. It must never log or return a token.
package backchannel
