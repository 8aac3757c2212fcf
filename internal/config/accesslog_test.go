package config

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccessLogSettings(t *testing.T) {
	for raw, want := range map[[2]string]AccessLog{
		{"0.25", "0"}:     {Sample: 0.25, Buffer: 0},
		{"0", "4096"}:     {Sample: 0, Buffer: 4096},
		{" 1 ", "65536"}:  {Sample: 1, Buffer: 65536},
		{"1e-2", "70000"}: {Sample: 0.01, Buffer: 70000},
	} {
		setEnv(t, with(map[string]string{"AUTH_MANAGER_ACCESS_LOG_SAMPLE": raw[0], "AUTH_MANAGER_ACCESS_LOG_BUFFER": raw[1]}))
		c, err := Load(os.LookupEnv, "dev")
		require.NoError(t, err, "%v", raw)
		assert.Equal(t, want, c.AccessLog, "%v", raw)
	}
}
