package ended

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/store"
)

var t0 = time.Unix(1_800_000_000, 0)

func session(sid, client string, until time.Time) store.Ended {
	return store.Ended{SessionID: sid, ClientID: client, ExpiresAt: until}
}

func userRuleAt(user string, at time.Time, seq int64, live ...string) store.Ended {
	return store.Ended{UserID: user, At: at, Seq: seq, Live: live, ExpiresAt: at.Add(time.Hour)}
}

// TestSessionRules: a whole session's end covers every client; one client's part covers
// that client only; other sessions are untouched; nothing holds past its expiry.
func TestSessionRules(t *testing.T) {
	m := newMemory()
	until := t0.Add(6 * time.Minute)
	m.apply(session("other", "", until))
	m.apply(session("s1", "other-client", until))
	assert.False(t, m.ended("s1", "app", "u1", t0, false, t0), "another session's end, or another client's part of it, changes nothing")
	assert.True(t, m.ended("s1", "other-client", "u1", t0, false, t0))
	m.apply(session("s1", "app", until))
	assert.True(t, m.ended("s1", "app", "u1", t0, false, t0))
	assert.True(t, m.ended("s1", "app", "u1", t0, true, t0), "a session's end covers its offline tokens too")
	assert.False(t, m.ended("", "app", "u1", t0, false, t0), "a token without a session is not covered")

	m = newMemory()
	m.apply(session("s1", "", until))
	assert.True(t, m.ended("s1", "app", "u1", t0, false, t0))
	assert.True(t, m.ended("s1", "any", "u2", t0, false, until.Add(-time.Second)))
	assert.False(t, m.ended("s1", "app", "u1", t0, false, until), "expired")
	m.apply(session("s1", "", until.Add(-time.Minute)))
	assert.True(t, m.ended("s1", "app", "u1", t0, false, until.Add(-time.Second)), "an earlier expiry does not shorten a later one")
}

// TestUserRules: after "user u1 had only session s2 as of T", tokens of u1 issued in a
// second before T in other sessions are refused; s2's, later ones, other users' and
// offline sessions' are not; a later statement supersedes an earlier one, never the
// reverse.
func TestUserRules(t *testing.T) {
	iat := t0
	m := newMemory()
	m.apply(userRuleAt("u1", t0.Add(time.Second), 1, "s1"))
	assert.False(t, m.ended("s1", "app", "u1", iat, false, t0), "s1 is live")
	m.apply(userRuleAt("u2", t0.Add(time.Second), 2))
	assert.False(t, m.ended("s1", "app", "u1", iat, false, t0), "another user")
	m.apply(userRuleAt("u1", t0, 3))
	assert.False(t, m.ended("s1", "app", "u1", iat, false, t0), "an older statement does not replace a newer one")
	m.apply(userRuleAt("u1", t0.Add(time.Second), 4, "s2"))
	assert.True(t, m.ended("s1", "app", "u1", iat, false, t0))
	assert.False(t, m.ended("s2", "app", "u1", iat, false, t0), "s2 is live")
	assert.False(t, m.ended("s1", "app", "u1", iat, true, t0), "a token of an offline session is exempt")
	assert.False(t, m.ended("s1", "app", "u1", t0.Add(time.Second), false, t0), "a token issued in the statement's second")
	assert.False(t, m.ended("s1", "app", "u1", t0.Add(1500*time.Millisecond), false, t0), "or later")
	assert.False(t, m.ended("s1", "app", "u1", iat, false, t0.Add(time.Second+time.Hour)), "expired")

	// Two statements of the same logout (one per reconciliation) have the same time:
	// the later record wins, whatever order they are applied in.
	m = newMemory()
	m.apply(userRuleAt("u1", t0.Add(time.Second), 11))
	m.apply(userRuleAt("u1", t0.Add(time.Second), 10, "s1"))
	assert.True(t, m.ended("s1", "app", "u1", iat, false, t0), "record 11 (s1 gone) stays over the earlier record 10")
	m.apply(userRuleAt("u1", t0.Add(time.Second), 12, "s1"))
	assert.False(t, m.ended("s1", "app", "u1", iat, false, t0), "record 12 supersedes 11")
}

// TestVolumeDoesNotFlush: however many sessions end after it, the first stays ended
// until it expires; pruning removes only what expired.
func TestVolumeDoesNotFlush(t *testing.T) {
	m := newMemory()
	m.apply(session("first", "", t0.Add(time.Hour)))
	m.apply(userRuleAt("first-user", t0.Add(time.Second), 1))
	for i := range 250_000 {
		m.apply(session(fmt.Sprint("s", i), "", t0.Add(10*time.Minute)))
		if i%10 == 0 {
			r := userRuleAt(fmt.Sprint("u", i), t0.Add(time.Second), int64(i+2))
			r.ExpiresAt = t0.Add(10 * time.Minute)
			m.apply(r)
		}
	}
	assert.True(t, m.ended("first", "app", "x", t0, false, t0))
	assert.True(t, m.ended("other", "app", "first-user", t0, false, t0))
	sessions, users := m.size()
	assert.Equal(t, [2]int{250_001, 25_001}, [2]int{sessions, users})

	assert.Equal(t, 250_001+25_001, m.prune(t0.Add(5*time.Minute)), "nothing expired yet")
	assert.Equal(t, 2, m.prune(t0.Add(20*time.Minute)))
	assert.True(t, m.ended("first", "app", "x", t0, false, t0.Add(20*time.Minute)))
	assert.True(t, m.ended("other", "app", "first-user", t0, false, t0.Add(20*time.Minute)))
	assert.Equal(t, 0, m.prune(t0.Add(2*time.Hour)))
	assert.False(t, m.ended("first", "app", "x", t0, false, t0.Add(2*time.Hour)))
}

// TestMemoryPerRecord measures the heap a remembered session costs, and that pruning
// gives it back (the maps are rebuilt once they shrink to a quarter of their peak).
func TestMemoryPerRecord(t *testing.T) {
	const n = 100_000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	m := newMemory()
	for i := range n {
		// A Keycloak session id (24 characters), allocated as a database read would.
		m.apply(session(fmt.Sprintf("cDzdIsR-noeHu9bS%08d", i), "", t0.Add(time.Minute)))
	}
	during := heap()
	perSession := float64(during-before) / n
	t.Logf("FIGURES memory per remembered session: %.0f B with its id (%d sessions, heap +%.1f MiB)",
		perSession, n, float64(during-before)/(1<<20))
	assert.Less(t, perSession, 200.0, "a remembered session costs a map entry, not more")
	m.prune(t0.Add(2 * time.Minute))
	after := heap()
	assert.Less(t, after, before+uint64(n*8), "pruning gives the memory back")
	runtime.KeepAlive(m)
}

// BenchmarkEnded is the per-request question, with nothing ended and with 100 000
// sessions and 10 000 user rules remembered (a token of none of them: every map is
// consulted).
func BenchmarkEnded(b *testing.B) {
	for _, n := range []int{0, 100_000} {
		m := newMemory()
		for i := range n {
			m.apply(session(fmt.Sprintf("cDzdIsR-noeHu9bS%08d", i), "", t0.Add(time.Hour)))
			if i%10 == 0 {
				m.apply(userRuleAt(fmt.Sprint("u", i), t0.Add(time.Second), int64(i)))
			}
		}
		b.Run(fmt.Sprint("remembered=", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if m.ended("cDzdIsR-noeHu9bSzzzzzzzz", "app", "u5", t0, false, t0) {
						b.Fatal("ended")
					}
				}
			})
		})
	}
}
