// Package jsonlog provides the service's slog handler: it writes the JSON lines that
// slog.JSONHandler writes, byte for byte, at a fraction of the cost for the records the
// service writes on every request (the access line and the audit event: strings,
// integers, one float). Records with anything else (groups, LogValuers, values that
// need encoding/json) are handed to a slog.JSONHandler on the same writer, so the
// output never differs; only the cost does.
package jsonlog
