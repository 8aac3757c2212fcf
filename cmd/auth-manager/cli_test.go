package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// jsonLines decodes every line of out as a JSON object, failing on anything else.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "not a JSON line: %q", l)
		lines = append(lines, m)
	}
	return lines
}

// TestHelpNeedsNoEnvironment: every command's --help (and -h, and `help COMMAND`)
// prints its usage on stdout and succeeds with nothing in the environment and no .env.
func TestHelpNeedsNoEnvironment(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range commands() {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errs bytes.Buffer
				require.NoError(t, run(context.Background(), args, config.MapEnv(nil), &out, &errs))
				assert.True(t, strings.HasPrefix(out.String(), "usage: auth-manager "+c.name), out.String())
				assert.Contains(t, out.String(), strings.Fields(c.summary)[0])
				assert.Empty(t, errs.String())
			})
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), args, config.MapEnv(nil), &out, &out))
		assert.True(t, strings.HasPrefix(out.String(), "usage: auth-manager [command]"), out.String())
	}
}

// TestUsageComesFromTheCommandList: the program's usage names every command the
// program runs, with its flags.
func TestUsageComesFromTheCommandList(t *testing.T) {
	var out bytes.Buffer
	writeUsage(&out)
	for _, want := range []string{"serve", "migrate [--yes] [up|down|status]", "rotate-keys [--batch N] [--dry-run]",
		"keepalive [--dry-run]", "doctor [--json]", "healthcheck [--timeout duration] [--url URL]", "keygen", "version", "help [command]"} {
		assert.Contains(t, out.String(), "\n  "+want+"\n", want)
	}
	assert.Len(t, commands(), 9)
}

// TestCommandLineRefused: unknown commands, flags and arguments are refused before any
// configuration is read, as a usage error: one JSON line, exit status 2.
func TestCommandLineRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "extra"}, `serve: unexpected argument "extra"`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"migrate", "sideways"}, `migrate: expected up, down or status, not "sideways"`},
		{[]string{"migrate", "up", "down"}, `migrate: unexpected argument "down"`},
		{[]string{"keepalive", "--bogus"}, "keepalive: flag provided but not defined: -bogus"},
		{[]string{"doctor", "now"}, `doctor: unexpected argument "now"`},
		{[]string{"rotate-keys", "--batch", "0"}, "--batch must be between 1 and 10000"},
		{[]string{"rotate-keys", "--batch", "many"}, "invalid value"},
		{[]string{"version", "--json"}, "version: flag provided but not defined: -json"},
		{[]string{"keygen", "now"}, `keygen: unexpected argument "now"`},
		{[]string{"help", "frobnicate"}, `help: unknown command "frobnicate"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errs bytes.Buffer
			err := run(context.Background(), tc.args, config.MapEnv(nil), &out, &errs)
			require.Error(t, err)
			var usage usageError
			require.True(t, errors.As(err, &usage), "a usage error, not %v", err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "required but not set", "refused before reading configuration")

			var stderr bytes.Buffer
			assert.Equal(t, 2, report(&stderr, err))
			lines := jsonLines(t, stderr.String())
			require.Len(t, lines, 1)
			assert.Equal(t, "ERROR", lines[0]["level"])
			assert.Equal(t, "usage", lines[0]["msg"])
			assert.Contains(t, lines[0]["error"], tc.want)
		})
	}
}

// TestConfigurationErrorsAllAtOnce: serve with an empty environment reports every
// required variable, one JSON line each naming it, and exits 1.
func TestConfigurationErrorsAllAtOnce(t *testing.T) {
	t.Chdir(t.TempDir())
	err := run(context.Background(), []string{"serve"}, config.MapEnv(map[string]string{"HTTP_READ_TIMEOUT": "15 seconds"}), &bytes.Buffer{}, &bytes.Buffer{})
	require.Error(t, err)
	var stderr bytes.Buffer
	assert.Equal(t, 1, report(&stderr, err))
	var named []string
	for _, l := range jsonLines(t, stderr.String()) {
		assert.Equal(t, "ERROR", l["level"])
		assert.Equal(t, "invalid configuration", l["msg"])
		assert.NotEmpty(t, l["problem"])
		named = append(named, l["variable"].(string))
	}
	assert.ElementsMatch(t, []string{"DATABASE_URL", "KEYCLOAK_ISSUER", "KEYCLOAK_CLIENT_ID", "KEYCLOAK_CLIENT_SECRET",
		"KEYCLOAK_CONSENT_REDIRECT_URI", "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", "STATE_TOKEN_SECRET", "HTTP_READ_TIMEOUT"}, named)
	assert.Contains(t, stderr.String(), "15s", "a duration's problem shows the expected form")
}

// TestFatalErrorIsOneJSONLine: any other fatal error is one JSON log line, even when
// its text spans lines.
func TestFatalErrorIsOneJSONLine(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, 1, report(&stderr, errors.New("listen tcp :8000: bind: address already in use\nsecond line")))
	lines := jsonLines(t, stderr.String())
	require.Len(t, lines, 1)
	assert.Equal(t, "fatal", lines[0]["msg"])
	assert.Equal(t, "listen tcp :8000: bind: address already in use\nsecond line", lines[0]["error"])
}

// TestBinaryExitStatus runs the built binary with an empty environment in an empty
// directory: --help exits 0 on stdout, a refused command line 2 and a configuration
// that does not load 1, each error as JSON lines on stderr.
func TestBinaryExitStatus(t *testing.T) {
	bin := testenv.Binary(t)
	for _, tc := range []struct {
		args        []string
		exit        int
		stdout      string
		stderrLines int
	}{
		{[]string{"migrate", "--help"}, 0, "usage: auth-manager migrate", 0},
		{[]string{"rotate-keys", "--help"}, 0, "usage: auth-manager rotate-keys", 0},
		{[]string{"keepalive", "--help"}, 0, "usage: auth-manager keepalive", 0},
		{[]string{"doctor", "--help"}, 0, "usage: auth-manager doctor", 0},
		{[]string{"serve", "extra"}, 2, "", 1},
		{[]string{"migrate", "down", "now"}, 2, "", 1},
		{[]string{"serve"}, 1, "", 7},
		{[]string{"migrate"}, 1, "", 1},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Dir = t.TempDir()
			cmd.Env = []string{}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			assert.Equal(t, tc.exit, cmd.ProcessState.ExitCode(), "%v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			assert.True(t, strings.HasPrefix(stdout.String(), tc.stdout), stdout.String())
			if tc.stderrLines == 0 {
				assert.Empty(t, stderr.String())
				return
			}
			assert.Len(t, jsonLines(t, stderr.String()), tc.stderrLines, stderr.String())
		})
	}
}
