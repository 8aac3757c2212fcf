package introspect

import (
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/auth-manager/auth-manager/internal/keycloak"
)

// endedRetention is how long an ended session id is remembered. A jwt-mode token of
// the session stays valid by signature until its exp, which the end notice does not
// tell; a day covers any sane access-token lifespan (Keycloak's default is 5 minutes).
const endedRetention = 24 * time.Hour

// endedSessions remembers the Keycloak sessions (sid) that ended, so that their tokens
// are refused at once, cached or not, in both modes. Bounded: when full, the oldest
// ended session is forgotten first.
type endedSessions struct {
	l *lru.Cache[endedID, time.Time]
}

// endedID names a session, or one client's part of it (client "": the whole session).
// A struct key: no string is built per request to look it up.
type endedID struct{ sid, client string }

func newEndedSessions(size int) *endedSessions {
	l, err := lru.New[endedID, time.Time](size)
	if err != nil {
		panic(err)
	}
	return &endedSessions{l: l}
}

func (e *endedSessions) add(sid, clientID string, now time.Time) {
	if sid != "" {
		e.l.Add(endedID{sid, clientID}, now.Add(endedRetention))
	}
}

// has reports whether session sid ended, as a whole or for clientID.
func (e *endedSessions) has(sid, clientID string, now time.Time) bool {
	if sid == "" || e.l.Len() == 0 {
		return false
	}
	return e.check(endedID{sid, ""}, now) || e.check(endedID{sid, clientID}, now)
}

func (e *endedSessions) check(key endedID, now time.Time) bool {
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

// userEnd says that at At, the user's only live sessions were Live: a token of the
// user issued in an earlier second whose session is not among them is over.
type userEnd struct {
	at    int64 // unix seconds, compared with iat
	live  map[string]bool
	until time.Time
}

// endedUsers remembers, per user, the last such statement (a later one supersedes an
// earlier: sessions never come back). Bounded like endedSessions.
type endedUsers struct{ l *lru.Cache[string, userEnd] }

func newEndedUsers(size int) *endedUsers {
	l, err := lru.New[string, userEnd](size)
	if err != nil {
		panic(err)
	}
	return &endedUsers{l: l}
}

func (e *endedUsers) has(sub, sid string, iat int64, now time.Time) bool {
	u, ok := e.l.Peek(sub)
	if !ok {
		return false
	}
	if !now.Before(u.until) {
		e.l.Remove(sub)
		return false
	}
	// Strictly earlier: iat has whole seconds, and a token issued later in the same
	// second as at may belong to a session created after the list was taken.
	return iat < u.at && !u.live[sid]
}

// EndUserSessionsExcept refuses, from now on (for endedRetention), every token of user
// sub issued in a second before at whose session is not in live: Keycloak's sign-out of a
// user ends all its sessions but sends one back-channel logout, and the user's session
// list afterwards says which are left.
func (a *Authenticator) EndUserSessionsExcept(sub string, at time.Time, live []string) {
	if sub == "" {
		return
	}
	set := make(map[string]bool, len(live))
	for _, sid := range live {
		set[sid] = true
	}
	if prev, ok := a.users.l.Peek(sub); ok && prev.at > at.Unix() {
		return // a later statement is already in place
	}
	a.users.l.Add(sub, userEnd{at: at.Unix(), live: set, until: a.opt.Now().Add(endedRetention)})
}

// userSessionOver applies the per-user statements to cl. A token of an offline session
// (scope offline_access) is exempt: the user's offline sessions of other clients are
// not in the list Keycloak gives the service, and a sign-out does not end them.
func (a *Authenticator) userSessionOver(cl keycloak.Claims, now time.Time) bool {
	if a.users.l.Len() == 0 || !a.users.has(cl.Subject, cl.SessionID, cl.IssuedAt, now) {
		return false
	}
	for scope := range strings.FieldsSeq(cl.Scope) {
		if scope == "offline_access" {
			return false
		}
	}
	return true
}
