// Package store is the service's only door to PostgreSQL: the pgx pool, the goose
// migrations and the repositories of the tables (auth_vault, auth_vault_access with the
// access token last minted from each row, ended_sessions, …), with each SQL statement
// beside the method that runs it.
//
// Methods take ctx first and report absence as ErrNotFound, never (nil, nil). The store
// holds ciphertext only: it must never see, log or return a plaintext token.
package store
