// Package problem is the service's one error vocabulary: a small typed error that
// knows its HTTP status, its envelope code, a public message and optional reason and
// details, and the one table (Of) that maps every other error to it.
//
// Feature packages define their sentinels as *Error values (or wrap one with With),
// httpapi writes Of(err) as the envelope and audit records Code(err). Nothing else
// turns errors into codes. A public message must never quote a token, a secret or
// raw input; the cause of an internal error goes to the log, never to the client.
package problem
