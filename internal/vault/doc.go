// Package vault is the token vault's feature service: it stores, lists, opens and
// deletes users' refresh and offline tokens, sealing them with package seal and
// enforcing who may touch which row.
//
// Ownership is decided here and nowhere else: a user caller sees only rows whose
// user_id is its own sub, and every other row answers ErrNotFound, exactly like a
// missing one. A plaintext token leaves this package only towards Keycloak (through
// the services that refresh it), never towards a log.
package vault
