// Package events is the token-health events feature: it reads the outbox (table events,
// written by package store in the transaction of each state change) for GET /v1/events,
// prunes it by age, and delivers it to the operator's webhook subscribers in the
// Standard Webhooks format, signed, at least once, in order per subscriber and user.
//
// It never carries a token: an event names a row, its user, type and session. It must
// never send a request to an address the operator did not allow (loopback, link-local
// and private targets are refused at dial time unless a subscriber allows them), nor
// mark a delivery done before the subscriber answered 2xx.
package events
