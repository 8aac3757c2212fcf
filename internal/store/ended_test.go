package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSessionEndedPayloads(t *testing.T) {
	sid, client := ParseSessionEnded("abc")
	assert.Equal(t, [2]string{"abc", ""}, [2]string{sid, client})
	sid, client = ParseSessionEnded("abc\nauth-manager")
	assert.Equal(t, [2]string{"abc", "auth-manager"}, [2]string{sid, client})
	_, _, _, ok := ParseUserSessions("abc\nauth-manager")
	assert.False(t, ok, "a session payload is not a user payload")

	for _, live := range [][]string{nil, {"s1"}, {"s1", "s2"}} {
		payload := userSessionsPrefix + "u1\n1800000000\n" + join(live)
		user, at, got, ok := ParseUserSessions(payload)
		assert.True(t, ok)
		assert.Equal(t, "u1", user)
		assert.Equal(t, time.Unix(1_800_000_000, 0), at)
		assert.Equal(t, live, got)
	}
	for _, bad := range []string{"@u1", "@u1\nnot-a-time\n", "@u1\n12"} {
		_, _, _, ok := ParseUserSessions(bad)
		assert.False(t, ok, bad)
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}
