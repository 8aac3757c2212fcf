// Package migrations holds the goose SQL migrations of the auth_vault schema, embedded
// in the binary so that `auth-manager serve` and `auth-manager migrate` need no files.
//
// Migration 1 adopts a database that the Python service's Alembic migrations created:
// every statement is conditional and touches no data. Never edit a migration that has
// shipped; add a new one.
package migrations
