// Package introspect authenticates callers from their bearer tokens, either by asking
// Keycloak (introspection, with a short cache keyed by a hash of the token) or by
// verifying the JWT locally against the realm's keys. It turns a token into a
// caller.Caller and recognises service callers by their role.
//
// It must never store or log a token: the cache key is a SHA-256 of it.
package introspect
