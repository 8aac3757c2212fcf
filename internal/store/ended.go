package store

import (
	"context"
	"strconv"
	"strings"
	"time"
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

// userSessionsPrefix marks a SessionEndedChannel payload about a user's sessions (a
// session id never starts with it).
const userSessionsPrefix = "@"

// NotifyUserSessions announces that at time at, userID's only live sessions were live
// (after Keycloak ended the others, e.g. its sign-out of the user).
func (s *Store) NotifyUserSessions(ctx context.Context, userID string, at time.Time, live []string) error {
	payload := userSessionsPrefix + userID + "\n" + strconv.FormatInt(at.Unix(), 10) + "\n" + strings.Join(live, ",")
	const q = `SELECT pg_notify($1, $2)`
	if _, err := s.pool.Exec(ctx, q, SessionEndedChannel, payload); err != nil {
		return wrap("notify user sessions", err)
	}
	return nil
}

// ParseUserSessions reads a NotifyUserSessions payload; ok is false for any other.
func ParseUserSessions(payload string) (userID string, at time.Time, live []string, ok bool) {
	rest, found := strings.CutPrefix(payload, userSessionsPrefix)
	if !found {
		return "", time.Time{}, nil, false
	}
	parts := strings.SplitN(rest, "\n", 3)
	if len(parts) != 3 {
		return "", time.Time{}, nil, false
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", time.Time{}, nil, false
	}
	if parts[2] != "" {
		live = strings.Split(parts[2], ",")
	}
	return parts[0], time.Unix(unix, 0), live, true
}
