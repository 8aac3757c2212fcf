package store

import (
	"context"
	"strings"
)

// SessionEndedChannel is the NOTIFY channel on which replicas announce Keycloak
// sessions that ended (back-channel logout, or ended through this service), so that
// every replica refuses callers' tokens of them at once.
const SessionEndedChannel = "auth_session_ended"

// NotifySessionEnded announces that session sid ended: for every client, or only for
// clientID's tokens when it is not "".
func (s *Store) NotifySessionEnded(ctx context.Context, sid, clientID string) error {
	payload := sid
	if clientID != "" {
		payload += "\n" + clientID
	}
	const q = `SELECT pg_notify($1, $2)`
	if _, err := s.pool.Exec(ctx, q, SessionEndedChannel, payload); err != nil {
		return wrap("notify session ended", err)
	}
	return nil
}

// ParseSessionEnded reads a SessionEndedChannel payload.
func ParseSessionEnded(payload string) (sid, clientID string) {
	sid, clientID, _ = strings.Cut(payload, "\n")
	return sid, clientID
}
