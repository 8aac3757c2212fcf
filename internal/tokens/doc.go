// Package tokens is the access-token service: it turns a stored refresh or offline
// token into a fresh access token, stores the successor Keycloak rotates in, and
// serves an access token for its whole lifetime to every replica: from a bounded
// in-memory cache that every replica evicts when the change feed (package feed) shows a
// deletion or an invalidation, and answers from only while that feed is fresh; else
// from the copy the vault keeps sealed in the database; only then from a refresh.
// Tokens narrowed by exchange are cached in this process only.
//
// It guarantees that a stored refresh token is presented to Keycloak at most once:
// refreshes of one row are serialised by the row lock (across processes) and by a
// single flight (within one), and always use the token read under the lock. It must
// never log a token or return one to a caller who does not own the row.
package tokens
