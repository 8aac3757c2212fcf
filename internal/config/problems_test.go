package config

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadReportsEveryProblemAtOnce: an empty environment names every required
// variable in one error, one line each; invalid values are reported with the missing
// ones, and a variable is named once however many checks it fails.
func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	required := []string{"DATABASE_URL", "KEYCLOAK_ISSUER", "KEYCLOAK_CLIENT_ID", "KEYCLOAK_CLIENT_SECRET",
		"KEYCLOAK_CONSENT_REDIRECT_URI", "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY", "STATE_TOKEN_SECRET"}
	cases := []struct {
		name string
		env  map[string]string
		want []string // variables named, in order
	}{
		{"nothing set", nil, required},
		{"missing and invalid together", with(map[string]string{
			"PORT": "eighty", "HTTP_READ_TIMEOUT": "fast", "KEYCLOAK_TIMEOUT": "500", "AUTH_MANAGER_AUTH_MODE": "magic",
			"DATABASE_POOL_SIZE": "0", "STATE_TOKEN_EXPIRY": "30s",
		}, "KEYCLOAK_CLIENT_SECRET", "STATE_TOKEN_SECRET"),
			[]string{"PORT", "DATABASE_POOL_SIZE", "KEYCLOAK_CLIENT_SECRET", "STATE_TOKEN_SECRET", "HTTP_READ_TIMEOUT", "KEYCLOAK_TIMEOUT",
				"AUTH_MANAGER_AUTH_MODE", "STATE_TOKEN_EXPIRY"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(MapEnv(tc.env), "dev")
			require.Error(t, err)
			problems := Errors(err)
			var named []string
			for _, p := range problems {
				named = append(named, p.Var)
			}
			assert.ElementsMatch(t, tc.want, named)
			lines := strings.Split(err.Error(), "\n")
			require.Len(t, lines, len(tc.want), err.Error())
			for i, line := range lines {
				assert.Equal(t, problems[i].Error(), line)
				assert.True(t, strings.HasPrefix(line, "config: "+problems[i].Var+": "), line)
			}
		})
	}
}

// TestProblemHints: each kind of bad value says what form is expected.
func TestProblemHints(t *testing.T) {
	for _, tc := range []struct{ key, value, hint string }{
		{"HTTP_READ_TIMEOUT", "fast", "Go duration such as 15s, 2m or 1h, or a whole number of seconds"},
		{"HTTP_READ_TIMEOUT", "1.5", "Go duration such as 15s"},
		{"HTTP_READ_TIMEOUT", "2h", "must be between 1s and 1h"},
		{"AUTH_MANAGER_KEEPALIVE_INTERVAL", "48h", "must be between 1s and 24h"},
		{"DATABASE_POOL_TIMEOUT", "0", "must be at least 1s"},
		{"PORT", "eighty", "whole number"},
		{"DEBUG", "maybe", "true or false"},
		{"DATABASE_URL", "mysql://x@y/z", "postgres://"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := Load(MapEnv(with(map[string]string{tc.key: tc.value})), "dev")
			require.Error(t, err)
			problems := Errors(err)
			require.Len(t, problems, 1, err.Error())
			assert.Equal(t, tc.key, problems[0].Var)
			assert.Contains(t, problems[0].Problem, tc.hint)
		})
	}
}

// TestDurationsTakeUnits: every duration variable takes Go units and bare seconds.
func TestDurationsTakeUnits(t *testing.T) {
	cases := []struct {
		key, value string
		got        func(Config) time.Duration
		want       time.Duration
	}{
		{"HTTP_READ_TIMEOUT", "15s", func(c Config) time.Duration { return c.HTTP.ReadTimeout }, 15 * time.Second},
		{"HTTP_READ_TIMEOUT", "15", func(c Config) time.Duration { return c.HTTP.ReadTimeout }, 15 * time.Second},
		{"HTTP_READ_TIMEOUT", " 1m30s ", func(c Config) time.Duration { return c.HTTP.ReadTimeout }, 90 * time.Second},
		{"AUTH_MANAGER_KEEPALIVE_INTERVAL", "1h", func(c Config) time.Duration { return c.KeepAlive.Interval }, time.Hour},
		{"AUTH_MANAGER_KEEPALIVE_IDLE_THRESHOLD", "36h", func(c Config) time.Duration { return c.KeepAlive.IdleThreshold }, 36 * time.Hour},
		{"AUTH_MANAGER_KEEPALIVE_RETENTION", "0", func(c Config) time.Duration { return c.KeepAlive.Retention }, 0},
		{"KEYCLOAK_TIMEOUT", "2500ms", func(c Config) time.Duration { return c.Keycloak.Timeout }, 2500 * time.Millisecond},
		{"STATE_TOKEN_EXPIRY", "15m", func(c Config) time.Duration { return c.StateExpiry }, 15 * time.Minute},
		{"SHUTDOWN_DRAIN_DELAY", "1.5s", func(c Config) time.Duration { return c.HTTP.DrainDelay }, 1500 * time.Millisecond},
		{"AUTH_MANAGER_RATE_LIMIT_WINDOW", "1m", func(c Config) time.Duration { return c.Edge.RateLimitWindow }, time.Minute},
		{"AUTH_MANAGER_ACCESS_TOKEN_MIN_TTL", "45", func(c Config) time.Duration { return c.Tokens.MinTTL }, 45 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			c, err := Load(MapEnv(with(map[string]string{tc.key: tc.value})), "dev")
			require.NoError(t, err)
			assert.Equal(t, tc.want, tc.got(c))
		})
	}
}

// TestDurationsKeepTheirUnit: every duration variable was a number of seconds, and a
// bare number still is: each default written as seconds gives the same Config as the
// default itself.
func TestDurationsKeepTheirUnit(t *testing.T) {
	base, err := Load(MapEnv(with(nil)), "dev")
	require.NoError(t, err)
	n := 0
	for key, f := range envFields() {
		if f.Type != reflect.TypeFor[duration]() {
			continue
		}
		n++
		def := f.Tag.Get("default")
		if def == "" { // HTTP_WRITE_TIMEOUT: derived when unset
			c, err := Load(MapEnv(with(map[string]string{key: "45"})), "dev")
			require.NoError(t, err, key)
			assert.Equal(t, 45*time.Second, c.HTTP.WriteTimeout, key)
			continue
		}
		d, err := time.ParseDuration(def)
		require.NoError(t, err, key)
		c, err := Load(MapEnv(with(map[string]string{key: strconv.Itoa(int(d / time.Second))})), "dev")
		require.NoError(t, err, key)
		assert.Equal(t, base, c, "%s=%d must mean %s", key, int(d/time.Second), def)
	}
	assert.GreaterOrEqual(t, n, 15, "duration variables")
}

// TestWriteTimeoutOutlastsRefreshDeadline: HTTP_WRITE_TIMEOUT must be longer than a
// refresh may take; unset, it is derived from the refresh deadline.
func TestWriteTimeoutOutlastsRefreshDeadline(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want time.Duration // 0: refused
	}{
		{"unset: deadline (10s × 3 + 5s) + 5s", nil, 40 * time.Second},
		{"unset, shorter Keycloak calls", map[string]string{"KEYCLOAK_TIMEOUT": "2s", "KEYCLOAK_RETRIES": "0"}, 12 * time.Second},
		{"longer than the deadline", map[string]string{"HTTP_WRITE_TIMEOUT": "36s"}, 36 * time.Second},
		{"equal to the deadline", map[string]string{"HTTP_WRITE_TIMEOUT": "35s"}, 0},
		{"the old default, shorter", map[string]string{"HTTP_WRITE_TIMEOUT": "30"}, 0},
		{"shorter after raising the retries", map[string]string{"HTTP_WRITE_TIMEOUT": "60s", "KEYCLOAK_RETRIES": "5"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(MapEnv(with(tc.env)), "dev")
			if tc.want == 0 {
				require.Error(t, err)
				p := Errors(err)
				require.Len(t, p, 1)
				assert.Equal(t, "HTTP_WRITE_TIMEOUT", p[0].Var)
				assert.Contains(t, p[0].Problem, "refresh deadline")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.HTTP.WriteTimeout)
			assert.Greater(t, c.HTTP.WriteTimeout, c.Keycloak.RefreshDeadline())
		})
	}
}

// TestDebugMeansDebugLevel: DEBUG=true is LOG_LEVEL=DEBUG unless LOG_LEVEL is set.
func TestDebugMeansDebugLevel(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "INFO"},
		{map[string]string{"DEBUG": "true"}, "DEBUG"},
		{map[string]string{"DEBUG": "true", "LOG_LEVEL": "WARNING"}, "WARN"},
		{map[string]string{"DEBUG": "false", "LOG_LEVEL": "debug"}, "DEBUG"},
		{map[string]string{"DEBUG": "true", "LOG_LEVEL": ""}, "DEBUG"},
	} {
		c, err := Load(MapEnv(with(tc.env)), "dev")
		require.NoError(t, err, tc.env)
		assert.Equal(t, tc.want, c.LogLevel.String(), "%v", tc.env)
		_, level, err := LoadDatabase(MapEnv(with(tc.env)))
		require.NoError(t, err)
		assert.Equal(t, tc.want, level.String(), "migrate's level, %v", tc.env)
	}
}

// TestTrustedProxiesCoverage: trusting more than a /8 of IPv4 or a /32 of IPv6
// addresses in total (overlaps counted once) refuses to start.
func TestTrustedProxiesCoverage(t *testing.T) {
	for proxies, ok := range map[string]bool{
		"10.0.0.0/8":                         true,
		"10.0.0.0/8,10.1.0.0/16,10.2.3.4":    true,
		"10.0.0.0/8,2001:db8::/32":           true,
		"192.168.0.0/16,172.16.0.0/12":       true,
		"0.0.0.0/1,128.0.0.0/1":              false,
		"10.0.0.0/8,11.0.0.0/8":              false,
		"10.0.0.0/7":                         false,
		"0.0.0.0/0":                          false,
		"2001:db8::/31":                      false,
		"2001:db8::/32,2001:db9::/32":        false,
		"::/0":                               false,
		"::ffff:0.0.0.0/96":                  false, // all of IPv4, mapped
		"::ffff:10.0.0.0/104":                true,  // 10.0.0.0/8, mapped
		"fd00::/33,fd00:8000::/33,fd00::/64": true,  // one /32 in two halves
	} {
		t.Run(proxies, func(t *testing.T) {
			c, err := Load(MapEnv(with(map[string]string{"AUTH_MANAGER_TRUSTED_PROXIES": proxies})), "dev")
			if ok {
				require.NoError(t, err)
				assert.NotEmpty(t, c.Edge.TrustedProxies)
				return
			}
			require.Error(t, err)
			p := Errors(err)
			require.Len(t, p, 1)
			assert.Equal(t, "AUTH_MANAGER_TRUSTED_PROXIES", p[0].Var)
			assert.Contains(t, p[0].Problem, "AUTH_MANAGER_RATE_LIMIT")
		})
	}
	c, err := Load(MapEnv(with(map[string]string{"AUTH_MANAGER_TRUSTED_PROXIES": "::ffff:10.0.0.0/104"})), "dev")
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.0/8", c.Edge.TrustedProxies[0].String(), "a mapped prefix is compared as IPv4")
}
