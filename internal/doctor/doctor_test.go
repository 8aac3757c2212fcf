package doctor

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// The judgements that need no network; the checks that do are tested against the
// real stack in cmd/auth-manager.

func TestJudgeOfflineIdle(t *testing.T) {
	day := 24 * time.Hour
	ka := config.KeepAlive{Enabled: true, IdleThreshold: day, Interval: time.Hour}
	realm := func(idle time.Duration) keycloak.RealmSettings {
		return keycloak.RealmSettings{OfflineSessionIdleTimeout: int(idle / time.Second)}
	}
	assert.True(t, judgeOfflineIdle(ka, realm(30*day)).OK)
	r := judgeOfflineIdle(ka, realm(25*time.Hour)) // the worst gap equals the timeout: too late
	assert.False(t, r.OK)
	assert.Contains(t, r.Detail, "25h0m0s")
	assert.Contains(t, r.Fix, "AUTH_MANAGER_KEEPALIVE_IDLE_THRESHOLD")
	off := judgeOfflineIdle(config.KeepAlive{}, realm(time.Hour))
	assert.True(t, off.OK, "keep-alive off is a choice, not a failure")
	assert.Contains(t, off.Detail, "keep-alive off")
}

func TestCheckRotation(t *testing.T) {
	assert.True(t, checkRotation(keycloak.RealmSettings{}).OK)
	assert.True(t, checkRotation(keycloak.RealmSettings{RevokeRefreshToken: true, RefreshTokenMaxReuse: 1}).OK)
	r := checkRotation(keycloak.RealmSettings{RevokeRefreshToken: true})
	assert.False(t, r.OK)
	assert.Contains(t, r.Detail, "dies between Keycloak's answer and its database commit")
}

func TestCheckRoles(t *testing.T) {
	assert.True(t, checkRoles([]string{"view-users", "manage-users", "query-clients"}).OK)
	assert.True(t, checkRoles([]string{"view-users", "manage-users", "view-clients", "view-realm"}).OK)
	r := checkRoles([]string{"view-users"})
	assert.False(t, r.OK)
	assert.Contains(t, r.Detail, "lacks manage-users, view-clients")
}

func TestReport(t *testing.T) {
	r := ConfigFailure(errors.Join(errors.New("config: DATABASE_URL: required but not set"),
		errors.New("config: PORT: must be a whole number")))
	assert.False(t, r.OK)
	assert.Len(t, r.Failed(), 1, "skipped checks are not failures")
	var buf bytes.Buffer
	r.WriteText(&buf)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.True(t, strings.HasPrefix(lines[0], "✗ config"), lines[0])
	assert.Contains(t, lines[0], "DATABASE_URL: required but not set; config: PORT: must be a whole number", "every problem, one line")
	assert.Contains(t, lines[0], "— fix: ")
	assert.True(t, strings.HasPrefix(lines[1], "– postgres"), lines[1])
	assert.Equal(t, "1 check(s) failed", lines[len(lines)-1])

	var recorded []string
	r.Export(func(check string, ok bool) { recorded = append(recorded, check) }, nil)
	assert.Equal(t, []string{CheckConfig}, recorded, "skipped checks are not exported")
}

func TestLegacySummary(t *testing.T) {
	for _, tc := range []struct {
		rep  vault.KeyReport
		want string
	}{
		{vault.KeyReport{Rows: 5, RowsExact: true, Legacy: 2}, "2 of 5 row(s) legacy (no integrity tag)"},
		{vault.KeyReport{Rows: 1_000_000, Legacy: 10000, LegacyMore: true},
			"more than 10000 of about 1000000 row(s) legacy (no integrity tag)"},
		{vault.KeyReport{Rows: -1, Legacy: 3}, "3 row(s) legacy (no integrity tag)"},
		{vault.KeyReport{Rows: 9, RowsExact: true, Legacy: 4, LegacySampled: 4, LegacyMismatch: 1},
			"4 of 9 row(s) legacy (no integrity tag), 1 of 4 sampled unusable (do not open or fail the claims check)"},
	} {
		assert.Equal(t, tc.want, legacySummary(tc.rep))
	}
}

// TestCheckListenTransactionMode: behind a transaction pooler there is nothing to
// LISTEN on, by design: the check passes and says the feed is polled (no database
// round trip is tried).
func TestCheckListenTransactionMode(t *testing.T) {
	cfg := config.Config{Database: config.Database{PoolMode: config.PoolModeTransaction}, Feed: config.Feed{Poll: 2 * time.Second}}
	r := checkListen(t.Context(), Deps{Config: cfg})
	assert.True(t, r.OK)
	assert.Contains(t, r.Detail, "polls the change feed every 2s")
}
