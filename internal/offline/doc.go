// Package offline is the offline-token feature service: it starts a user's consent at
// Keycloak (authorization code flow with PKCE S256, a nonce and a signed, expiring,
// single-use state), finishes it at the callback by storing the offline token in the
// vault, issues further offline tokens from a stored one, and revokes them, ending the
// Keycloak offline session unless another stored offline token still needs it.
//
// The callback is unauthenticated, so everything it acts on comes from the server: the
// state's signature says who asked, the pending consent kept in the database (taken
// exactly once) holds the PKCE verifier and nonce, and the ID token Keycloak returns
// must name the same user. It must never put a token, code, state, verifier or nonce
// into an error or a log line.
package offline
