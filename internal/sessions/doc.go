// Package sessions makes the vault and Keycloak's sessions agree. It lists a user's
// Keycloak sessions, online and offline, joined with the stored tokens bound to them;
// and revokes a session in Keycloak and then deletes its rows. (Back-channel logout
// notices are package backchannel's; the offline keep-alive and clean-up job is
// package keepalive.)
//
// Who owns a session is decided by Keycloak's session lists and the vault, never by a
// session or user id taken from a request. It must never log or return a token.
package sessions
