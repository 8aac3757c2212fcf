package introspect

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// endedRetention is how long an ended session id is remembered. A jwt-mode token of
// the session stays valid by signature until its exp, which the end notice does not
// tell; a day covers any sane access-token lifespan (Keycloak's default is 5 minutes).
const endedRetention = 24 * time.Hour

// endedSessions remembers the Keycloak sessions (sid) that ended, so that their tokens
// are refused at once, cached or not, in both modes. Bounded: when full, the oldest
// ended session is forgotten first.
type endedSessions struct{ l *lru.Cache[string, time.Time] }

func newEndedSessions(size int) *endedSessions {
	l, err := lru.New[string, time.Time](size)
	if err != nil {
		panic(err)
	}
	return &endedSessions{l: l}
}

// endedKey names a session, or one client's part of it.
func endedKey(sid, clientID string) string {
	if clientID == "" {
		return sid
	}
	return sid + "\n" + clientID
}

func (e *endedSessions) add(sid, clientID string, now time.Time) {
	if sid != "" {
		e.l.Add(endedKey(sid, clientID), now.Add(endedRetention))
	}
}

// has reports whether session sid ended, as a whole or for clientID.
func (e *endedSessions) has(sid, clientID string, now time.Time) bool {
	if sid == "" {
		return false
	}
	return e.check(endedKey(sid, ""), now) || e.check(endedKey(sid, clientID), now)
}

func (e *endedSessions) check(key string, now time.Time) bool {
	until, ok := e.l.Peek(key)
	if ok && !now.Before(until) {
		e.l.Remove(key)
		return false
	}
	return ok
}

// EndSession refuses every token of session sid from now on (for endedRetention), or
// only those issued to clientID when it is not "" (a revoked refresh token removes its
// client from the session, not the session). The session ended: back-channel logout,
// or this service ended it.
func (a *Authenticator) EndSession(sid, clientID string) { a.ended.add(sid, clientID, a.opt.Now()) }

// SetFeedUp records the state of the ended-session feed (when Options.WaitForFeed).
// Both transitions empty the cache: going down, ends announced meanwhile would be
// missed; coming up, some may have been.
func (a *Authenticator) SetFeedUp(up bool) {
	if !a.opt.WaitForFeed {
		return
	}
	a.trusted.Store(up)
	a.cache.purge()
}
