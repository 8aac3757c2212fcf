package ended

import (
	"sync"
	"time"

	"github.com/auth-manager/auth-manager/internal/store"
)

// sessionKey names a session, or one client's part of it (client "": the whole
// session). A struct key: no string is built per request to look it up.
type sessionKey struct{ sid, client string }

// userRule says that as of at, the user's only live sessions were live: a token of the
// user issued in an earlier second whose session is not among them is over.
type userRule struct {
	at    time.Time
	seq   int64 // orders rules of one at: the later record is the later list
	live  map[string]struct{}
	until time.Time
}

// memory is the in-memory set of unexpired records: maps pruned by expiry, never
// evicted by count. Safe for concurrent use.
type memory struct {
	mu       sync.RWMutex
	sessions map[sessionKey]time.Time // → until
	users    map[string]userRule
	// peak sizes since the maps were made: a Go map keeps its memory when entries are
	// deleted, so prune copies one that shrank to a quarter of its peak.
	peakSessions, peakUsers int
}

func newMemory() *memory {
	return &memory{sessions: map[sessionKey]time.Time{}, users: map[string]userRule{}}
}

// apply adds r (seq 0 for a record that was not written).
func (m *memory) apply(r store.Ended) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applyLocked(r)
}

func (m *memory) applyAll(rs []store.Ended) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range rs {
		m.applyLocked(r)
	}
}

func (m *memory) applyLocked(r store.Ended) {
	switch {
	case r.SessionID != "":
		k := sessionKey{r.SessionID, r.ClientID}
		if until, ok := m.sessions[k]; !ok || r.ExpiresAt.After(until) {
			m.sessions[k] = r.ExpiresAt
		}
		m.peakSessions = max(m.peakSessions, len(m.sessions))
	case r.UserID != "":
		// A later statement supersedes an earlier one: sessions never come back, and a
		// session created in between is in the later list anyway.
		if prev, ok := m.users[r.UserID]; ok && (prev.at.After(r.At) || prev.at.Equal(r.At) && prev.seq > r.Seq) {
			return
		}
		live := make(map[string]struct{}, len(r.Live))
		for _, sid := range r.Live {
			live[sid] = struct{}{}
		}
		m.users[r.UserID] = userRule{at: r.At, seq: r.Seq, live: live, until: r.ExpiresAt}
		m.peakUsers = max(m.peakUsers, len(m.users))
	}
}

// ended applies the rules to a token (see Registry.Ended).
func (m *memory) ended(sid, clientID, subject string, issuedAt time.Time, offline bool, now time.Time) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if sid != "" && len(m.sessions) > 0 {
		if until, ok := m.sessions[sessionKey{sid, ""}]; ok && now.Before(until) {
			return true
		}
		if until, ok := m.sessions[sessionKey{sid, clientID}]; ok && now.Before(until) {
			return true
		}
	}
	if offline || subject == "" || len(m.users) == 0 {
		return false
	}
	u, ok := m.users[subject]
	if !ok || !now.Before(u.until) {
		return false
	}
	// Strictly earlier second: iat has whole seconds, and a token issued later in the
	// same second as at may belong to a session created after the list was taken.
	if issuedAt.Unix() >= u.at.Unix() {
		return false
	}
	_, live := u.live[sid]
	return !live
}

// prune forgets what expired at now and returns how many entries are left.
func (m *memory) prune(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, until := range m.sessions {
		if !now.Before(until) {
			delete(m.sessions, k)
		}
	}
	for k, u := range m.users {
		if !now.Before(u.until) {
			delete(m.users, k)
		}
	}
	if len(m.sessions) < m.peakSessions/4 {
		m.sessions, m.peakSessions = copyMap(m.sessions), len(m.sessions)
	}
	if len(m.users) < m.peakUsers/4 {
		m.users, m.peakUsers = copyMap(m.users), len(m.users)
	}
	return len(m.sessions) + len(m.users)
}

// size returns how many sessions (or client parts) and user rules are remembered.
func (m *memory) size() (sessions, users int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.sessions), len(m.users)
}

// copyMap returns a copy of m sized for its entries (maps.Clone keeps m's size).
func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
