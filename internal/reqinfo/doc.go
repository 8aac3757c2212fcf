// Package reqinfo is the one per-request record of the HTTP layer: the request id, the
// client IP and, once authenticated, the caller, in a single allocation that is also
// the request's context. It exists so that a request on the hot path is copied once
// (one r.WithContext) and allocates one context value instead of one per package.
//
// Readers never use it: requestid.From, clientip.From and caller.From find its values
// through the context keys of those packages, which it answers for. It must never
// hold anything but those three values, nor be mutated except by Info.SetCaller.
package reqinfo
