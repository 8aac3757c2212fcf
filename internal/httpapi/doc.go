// Package httpapi is the service's HTTP boundary: the one route list (routes.go), the
// middleware, the handlers, and the one place where JSON is decoded, encoded and errors
// are turned into the contract's envelope (envelope.go, errors.go).
//
// Handlers parse and validate input, call a feature service and write its answer; they
// hold no business rules. Nothing here may write a token, a secret or an internal error
// message to a log line or to a client.
package httpapi
