// Package clienttest holds the tests of the service's clients against the service: the
// Go client (the separate module in client/, which cannot import this module's
// internal packages) and a Python client generated from api/openapi.json, each run
// against the service started in-process on the real PostgreSQL and Keycloak of the
// local stack, and checked against the OpenAPI document. It has no code of its own
// besides the tests and must never be imported.
package clienttest
