package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/testenv"
)

// TestUnsafeConfigurationStopsTheBinary: a combination of settings that silently
// weakens the service makes the binary exit 1 at start, with one JSON line naming the
// variables, before it opens a listener or touches the database.
func TestUnsafeConfigurationStopsTheBinary(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	for name, tc := range map[string]struct {
		env  []string
		vars []string
	}{
		"any origin with credentials":  {[]string{"CORS_ORIGINS=http://a.example,*", "CORS_ALLOW_CREDENTIALS=true"}, []string{"CORS_ORIGINS", "CORS_ALLOW_CREDENTIALS"}},
		"origin null with credentials": {[]string{"CORS_ORIGINS=null", "CORS_ALLOW_CREDENTIALS=true"}, []string{"CORS_ORIGINS", "CORS_ALLOW_CREDENTIALS"}},
		"every peer a trusted proxy":   {[]string{"AUTH_MANAGER_TRUSTED_PROXIES=10.0.0.0/8,0.0.0.0/0"}, []string{"AUTH_MANAGER_TRUSTED_PROXIES", "AUTH_MANAGER_RATE_LIMIT"}},
		"half the internet twice":      {[]string{"AUTH_MANAGER_TRUSTED_PROXIES=0.0.0.0/1,128.0.0.0/1"}, []string{"AUTH_MANAGER_TRUSTED_PROXIES", "AUTH_MANAGER_RATE_LIMIT"}},
		"more IPv6 than a /32":         {[]string{"AUTH_MANAGER_TRUSTED_PROXIES=2001:db8::/31"}, []string{"AUTH_MANAGER_TRUSTED_PROXIES", "AUTH_MANAGER_RATE_LIMIT"}},
		"write timeout within refresh": {[]string{"HTTP_WRITE_TIMEOUT=30s", "KEYCLOAK_TIMEOUT=10s", "KEYCLOAK_RETRIES=2"}, []string{"HTTP_WRITE_TIMEOUT", "refresh deadline"}},
		"an HMAC signing algorithm":    {[]string{"AUTH_MANAGER_SIGNING_ALGS=RS256,HS256"}, []string{"AUTH_MANAGER_SIGNING_ALGS"}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, testenv.Binary(t), "serve")
			cmd.Dir = t.TempDir()
			cmd.Env = append(append(os.Environ(), testenv.ProcessEnv(cfg, testenv.FreePort(t))...), tc.env...)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "the binary must exit with an error: %v\n%s", err, stderr.String())
			assert.Equal(t, 1, exit.ExitCode())
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			require.Len(t, lines, 1, "one line: %s", stderr.String())
			line := jsonLines(t, lines[0])[0]
			assert.Equal(t, "ERROR", line["level"])
			assert.Equal(t, "invalid configuration", line["msg"])
			for _, v := range tc.vars {
				assert.Contains(t, lines[0], v)
			}
			assert.NotContains(t, stderr.String(), `"msg":"listening"`)
		})
	}
}
