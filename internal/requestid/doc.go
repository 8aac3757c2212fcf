// Package requestid carries the request id (X-Request-ID) in a context, so that every
// log line and audit event of a request can name it. It knows nothing else.
package requestid
