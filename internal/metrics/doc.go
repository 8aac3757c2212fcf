// Package metrics is the service's Prometheus instrumentation: one registry, the
// collectors other packages feed through small callbacks, and the /metrics handler.
//
// Labels are bounded by construction (route patterns, never raw paths; fixed
// operation and outcome names). It must never put a user id, token or session id in a
// label.
package metrics
