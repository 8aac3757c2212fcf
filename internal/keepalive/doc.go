// Package keepalive is the offline keep-alive and clean-up job: it refreshes OFFLINE
// rows that have not been used for a while (so that Keycloak's offline idle timeout
// does not end their sessions), deletes rows marked invalid once their retention is
// over, and purges expired back-channel logout token ids. Every replica runs it: idle
// rows are claimed in batches (FOR UPDATE SKIP LOCKED and a claim that expires), and
// every refresh takes a slot of one rate kept in the database, so that the replicas
// share a pass and together stay under AUTH_MANAGER_KEEPALIVE_RATE.
//
// It presents stored tokens only through the vault's refresh (vault.RefreshIdle),
// never opens a row itself, and puts nothing in the access-token cache.
package keepalive
