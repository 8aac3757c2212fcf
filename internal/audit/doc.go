// Package audit writes the audit trail: one structured log event per token operation
// (stored, access token issued, refreshed, rotated, revoked, deleted, session revoked,
// back-channel logout, key rotation), with who did it to whom and how it ended.
//
// An event names ids only. It must never carry a token, ciphertext or key material;
// the Event type has no field that could hold one.
package audit
