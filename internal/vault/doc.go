// Package vault is the token vault's feature service and the only owner of sealed
// rows: it is the only package that imports package seal or the vault table's store
// methods. It offers whole operations (store, look up, list, delete, take, and
// Refresh, the one place where a stored token is locked, opened, presented to
// Keycloak, marked refused or re-sealed, and written back, with its metric and audit
// events; Mint is Refresh keeping the access token it obtained sealed for the row, so
// that every replica serves that token for its lifetime). At most KeycloakConcurrency
// refreshes run at once per replica. Other packages see ids, plain tokens handed in or
// out once, and Meta, which carries no ciphertext, IV, MAC or key id.
//
// Ownership is decided here and nowhere else: a user caller sees only rows whose
// user_id is its own sub, and every other row answers ErrNotFound, exactly like a
// missing one. A plaintext token leaves this package only towards Keycloak (through
// the services that refresh it), never towards a log.
package vault
