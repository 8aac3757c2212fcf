package ended

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestLifespans: the fallback until a first read; a longer lifespan at once; a shorter
// one only once the tokens issued under the longer one may have expired (its length
// plus a refresh after it was last read).
func TestLifespans(t *testing.T) {
	l := newLifespans(24*time.Hour, time.Minute)
	assert.Equal(t, 24*time.Hour, l.at(t0), "fallback before any read")
	assert.False(t, l.known())

	l.observe(5*time.Minute, t0)
	assert.True(t, l.known())
	assert.Equal(t, 5*time.Minute, l.at(t0))

	l.observe(time.Hour, t0.Add(time.Minute))
	assert.Equal(t, time.Hour, l.at(t0.Add(time.Minute)), "raised: at once")

	lowered := t0.Add(2 * time.Minute)
	l.observe(10*time.Minute, lowered)
	assert.Equal(t, time.Hour, l.at(lowered), "lowered: tokens issued under the hour are alive")
	assert.Equal(t, time.Hour, l.at(t0.Add(time.Minute+time.Hour+time.Minute-time.Second)))
	assert.Equal(t, 10*time.Minute, l.at(t0.Add(time.Minute+time.Hour+time.Minute)), "the hour's tokens are gone")

	l.observe(10*time.Minute, t0.Add(3*time.Hour))
	assert.Equal(t, 10*time.Minute, l.at(t0.Add(30*time.Hour)), "the latest value holds however old its read")
}
