// Package requestid makes request ids (X-Request-ID) for requests that arrive without
// a usable one. Package reqctx carries them.
package requestid
