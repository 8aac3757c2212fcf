// Package app wires the service together from a Config: the store, the Keycloak
// client, the feature services and the HTTP handler, and runs the HTTP server with
// graceful shutdown.
//
// It is the only package that knows every other one; it holds no business rules.
package app
