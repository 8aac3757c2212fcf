// Package reqctx carries what the HTTP layer learns about a request in its context:
// the request id, the client's IP address and the authenticated caller, so that
// handlers, feature services, audit events and log lines can read them.
//
// Its keys are unexported: values go in only through its With functions and are read
// only through its readers. It must never carry anything but these request-scoped
// values (no loggers, stores or configuration).
package reqctx
