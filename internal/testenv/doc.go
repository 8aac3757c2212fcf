// Package testenv gives integration tests the local stack: the configuration of the
// dev/test realm (deploy/dev.env, overridable by the environment), a fresh migrated
// database per test, tokens from the real Keycloak, and the whole service started
// in-process. The stack itself (the env file, databases, Keycloak's grants and admin
// API) is reached through internal/devstack, which the load harness shares; testenv
// turns it into helpers that fail the test.
//
// It is imported by tests only. When the stack is not running, tests FAIL with a
// message saying how to start it; they never skip (except under -short), so a missing
// stack can never turn CI green.
package testenv
