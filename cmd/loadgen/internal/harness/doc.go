// Package harness is the load harness behind `make bench` and `make bench-scale`
// (cmd/loadgen): it builds the service, starts it as a separate process against the
// local stack on a fresh database, seeds the vault through the real API, drives
// bounded closed-loop load at a few concurrency levels, samples the process's CPU and
// peak RSS, and writes the results as Markdown tables, each figure next to baselines
// measured in the same run.
//
// It talks to loopback addresses only, every loop is bounded in count and time, and
// it must never leave anything behind: the users it creates in Keycloak and the
// database it creates are removed when it ends. It is a tool, not part of the
// service: only cmd/loadgen imports it.
package harness
