package config

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccessLogSettings(t *testing.T) {
	for raw, want := range map[string]AccessLog{
		"0.25": {Sample: 0.25},
		"0":    {Sample: 0},
		" 1 ":  {Sample: 1},
		"1e-2": {Sample: 0.01},
	} {
		setEnv(t, with(map[string]string{"AUTH_MANAGER_ACCESS_LOG_SAMPLE": raw}))
		c, err := Load(os.LookupEnv, "dev")
		require.NoError(t, err, "%q", raw)
		assert.Equal(t, want, c.AccessLog, "%q", raw)
	}
}
