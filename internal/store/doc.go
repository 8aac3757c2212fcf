// Package store is the service's only door to PostgreSQL: the pgx pool, the goose
// migrations and the auth_vault repository (with auth_vault_access, the access token
// last minted from each row), with each SQL statement beside the method that runs it.
//
// Methods take ctx first and report absence as ErrNotFound, never (nil, nil). The store
// holds ciphertext only: it must never see, log or return a plaintext token.
package store
