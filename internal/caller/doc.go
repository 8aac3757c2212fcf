// Package caller is the authenticated identity of an HTTP request, as every feature
// service sees it: who the caller is and whether it may act for other users.
//
// It holds no token and makes no decision about how a caller was authenticated; that
// is package introspect's job.
package caller
