// Package keepalive is the offline keep-alive and clean-up job: it refreshes OFFLINE
// rows that have not been used for a while (so that Keycloak's offline idle timeout
// does not end their sessions), deletes rows marked invalid once their retention is
// over, and purges expired back-channel logout token ids. One replica at a time runs a
// pass (a PostgreSQL advisory lock).
//
// It presents stored tokens only through the access-token service's refresh, which
// uses the vault's one refresh operation; it never opens a row itself.
package keepalive
