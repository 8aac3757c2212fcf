package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoolModeAndFeed: DATABASE_POOL_MODE is session unless set to transaction (any
// case), which turns transaction pooling on, for migrate's partial load too; the feed's
// poll interval and retention default to 1s and 1h and are bounded.
func TestPoolModeAndFeed(t *testing.T) {
	c, err := Load(MapEnv(with(nil)), "dev")
	require.NoError(t, err)
	assert.Equal(t, PoolModeSession, c.Database.PoolMode)
	assert.False(t, c.Database.TransactionPooling())
	assert.Equal(t, Feed{Poll: time.Second, Retention: time.Hour}, c.Feed)

	c, err = Load(MapEnv(with(map[string]string{"DATABASE_POOL_MODE": " Transaction ",
		"AUTH_MANAGER_FEED_POLL_INTERVAL": "250ms", "AUTH_MANAGER_FEED_RETENTION": "2h"})), "dev")
	require.NoError(t, err)
	assert.True(t, c.Database.TransactionPooling())
	assert.Equal(t, Feed{Poll: 250 * time.Millisecond, Retention: 2 * time.Hour}, c.Feed)

	db, _, err := LoadDatabase(MapEnv(map[string]string{"DATABASE_URL": valid["DATABASE_URL"], "DATABASE_POOL_MODE": "transaction"}))
	require.NoError(t, err)
	assert.True(t, db.TransactionPooling(), "migrate behind the pooler takes goose's lock row")

	for _, tc := range []struct{ key, value, hint string }{
		{"DATABASE_POOL_MODE", "statement", "must be session or transaction"},
		{"AUTH_MANAGER_FEED_POLL_INTERVAL", "10ms", "must be between 100ms and 1m"},
		{"AUTH_MANAGER_FEED_RETENTION", "30s", "must be between 1m and 168h"},
	} {
		_, err := Load(MapEnv(with(map[string]string{tc.key: tc.value})), "dev")
		require.Error(t, err, tc.key)
		problems := Errors(err)
		require.Len(t, problems, 1, err.Error())
		assert.Equal(t, tc.key, problems[0].Var)
		assert.Contains(t, problems[0].Problem, tc.hint)
	}
}
