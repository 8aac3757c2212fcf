// Package logsink provides the access log's writer: lines are queued in memory and
// written in batches by one goroutine, so that a request does not pay a write(2) for
// its access line. The queue is bounded; when the output cannot keep up, lines are
// dropped and counted instead of blocking requests. Audit events do not go through
// it: they keep the synchronous writer (see README, "Metrics and audit log").
package logsink
