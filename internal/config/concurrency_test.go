package config

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeycloakConcurrencyBelowPool: the refreshes presented to Keycloak at once default
// to 8 and must stay below the database pool, so that a slow Keycloak never holds
// every connection.
func TestKeycloakConcurrencyBelowPool(t *testing.T) {
	setEnv(t, valid)
	c, err := Load(os.LookupEnv, "dev")
	require.NoError(t, err)
	assert.Equal(t, 8, c.Keycloak.Concurrency, "the default, against the default pool of 30")

	cases := []struct {
		vars map[string]string
		ok   bool
	}{
		{map[string]string{"AUTH_MANAGER_KEYCLOAK_CONCURRENCY": "29"}, true},
		{map[string]string{"AUTH_MANAGER_KEYCLOAK_CONCURRENCY": "30"}, false},
		{map[string]string{"AUTH_MANAGER_KEYCLOAK_CONCURRENCY": "0"}, false},
		{map[string]string{"AUTH_MANAGER_KEYCLOAK_CONCURRENCY": "many"}, false},
		{map[string]string{"DATABASE_POOL_SIZE": "4", "DATABASE_MAX_OVERFLOW": "4"}, false},
		{map[string]string{"DATABASE_POOL_SIZE": "4", "DATABASE_MAX_OVERFLOW": "4", "AUTH_MANAGER_KEYCLOAK_CONCURRENCY": "2"}, true},
	}
	for _, tc := range cases {
		setEnv(t, with(tc.vars))
		_, err := Load(os.LookupEnv, "dev")
		if tc.ok {
			assert.NoError(t, err, "%v", tc.vars)
			continue
		}
		require.Error(t, err, "%v", tc.vars)
		assert.Contains(t, err.Error(), "AUTH_MANAGER_KEYCLOAK_CONCURRENCY")
	}
}
