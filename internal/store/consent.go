package store

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Consent is a pending offline-consent request (migration 4): what the callback needs
// that it must not take from the browser.
type Consent struct {
	StateID   string // the random id the signed state names
	UserID    string // the user who asked
	SessionID string // the Keycloak session they asked from
	Verifier  string // PKCE code verifier
	Nonce     string // OpenID nonce the ID token must carry
	ExpiresAt time.Time
}

const insertConsentSQL = `
INSERT INTO offline_consent_state (state_id, user_id, session_state_id, code_verifier, nonce, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)`

// CreateConsent records a pending consent.
func (s *Store) CreateConsent(ctx context.Context, c Consent) error {
	_, err := s.pool.Exec(ctx, insertConsentSQL, c.StateID, c.UserID, c.SessionID, c.Verifier, c.Nonce, c.ExpiresAt)
	return wrap("create consent", err)
}

const takeConsentSQL = `
DELETE FROM offline_consent_state WHERE state_id = $1
RETURNING state_id, user_id::text, session_state_id, code_verifier, nonce, expires_at`

// TakeConsent removes the pending consent stateID and returns it: a state can be taken
// once, by one caller, across every replica. ErrNotFound means it never existed, was
// already taken, or was purged.
func (s *Store) TakeConsent(ctx context.Context, stateID string) (Consent, error) {
	var c Consent
	err := s.pool.QueryRow(ctx, takeConsentSQL, stateID).
		Scan(&c.StateID, &c.UserID, &c.SessionID, &c.Verifier, &c.Nonce, &c.ExpiresAt)
	return c, wrap("take consent", err)
}

const purgeConsentsSQL = `DELETE FROM offline_consent_state WHERE expires_at < $1`

// PurgeConsents deletes pending consents that expired before now and says how many.
// now is the caller's clock, so that an injected clock governs expiry everywhere.
func (s *Store) PurgeConsents(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, purgeConsentsSQL, now)
	if err != nil {
		return 0, wrap("purge consents", err)
	}
	return tag.RowsAffected(), nil
}

// The (user_id, token_type) index narrows the search to the user's offline rows; a
// row bound to the session itself is preferred over one merely consented from it.
const offlineForSessionSQL = `SELECT ` + metaColumns + ` FROM auth_vault
WHERE user_id = $1 AND token_type = 'OFFLINE'
  AND (session_state_id = $2 OR attributes->>'consent_session_id' = $2)
ORDER BY (session_state_id = $2) DESC, coalesce(updated_at, created_at) DESC, id
LIMIT 1`

// OfflineForSession returns userID's newest OFFLINE row bound to Keycloak session sid,
// or, failing that, one whose consent was asked for from sid (attributes
// consent_session_id): the browser that granted consent may have logged in afresh.
func (s *Store) OfflineForSession(ctx context.Context, userID, sid string) (Meta, error) {
	if uuid.Validate(userID) != nil || sid == "" {
		return Meta{}, ErrNotFound
	}
	m, err := scanMeta(s.pool.QueryRow(ctx, offlineForSessionSQL, userID, sid))
	return m, wrap("offline for session", err)
}
