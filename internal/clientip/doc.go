// Package clientip finds the client's IP address of an HTTP request, for rate limits,
// the access log and audit events (package reqctx carries it).
//
// X-Forwarded-For is client-controlled: it is believed only from peers the operator
// named as trusted proxies, and then only up to the first address that is not one.
package clientip
