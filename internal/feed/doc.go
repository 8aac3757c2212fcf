// Package feed follows the database's change feeds on every replica: the cache
// evictions (table auth_vault_evictions, appended by a trigger at the commit of each
// delete or invalidation) and the tables of other packages read by seq (ended
// sessions). One loop per replica reads them at once, on every NOTIFY wake-up, every
// poll interval, and whenever the wake-up connection comes back, from the last seq
// read; it applies evictions to the access-token cache and prunes them by age.
//
// It says whether the cache can be trusted (Fresh): with LISTEN, while the wake-up
// connection is up and the feed was read since it connected; without (behind a
// transaction pooler), while the last complete read began less than two poll
// intervals ago. A reconnection never empties the cache: the replay does what the
// lost notifications would have done. Only a gap (rows pruned before they were read)
// does. The package must never report the feed fresh while a committed eviction may
// be unread beyond that bound.
package feed
