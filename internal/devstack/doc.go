// Package devstack reaches the local development stack — PostgreSQL and Keycloak as an
// env file such as deploy/dev.env describes them — for the tools and tests that drive
// it: the load harness (cmd/loadgen) and the integration-test helpers
// (internal/testenv). It reads the env file as the service reads its .env, creates and
// drops throwaway databases, and is a small Keycloak client for token grants and the
// admin REST API.
//
// It is tooling: the service never imports it. It never modifies the process
// environment, and it never puts a token or a secret in an error.
package devstack
