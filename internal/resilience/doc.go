// Package resilience holds the fault tests of the whole service, run as real OS
// processes against the local stack: several replicas on one database, Keycloak and
// PostgreSQL going away under load, and a crash in the middle of token rotation.
//
// The tests stop and start shared parts of the stack (Keycloak), so they are built only
// with the "resilience" tag and run one package at a time by `make resilience`, never
// alongside the rest of `make test`.
package resilience
