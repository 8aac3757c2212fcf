// Package ended owns the Keycloak sessions that ended: it records each end in
// PostgreSQL (table ended_sessions, a feed ordered by seq), keeps every replica's
// in-memory set in step with the feed (loaded at start, then read from the last seq
// whenever package feed's follower wakes it: on NOTIFY, on its poll and after any
// outage), and answers whether a caller's token belongs to an ended session.
//
// A record lives until the last access token its session could have issued has expired
// (the realm's access-token lifespan plus clock skew), in the table and in memory; it is
// never forgotten earlier, whatever the number of records. The package must never drop
// a record because of volume, nor report one as recorded before it is committed.
package ended
