package metrics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeepAliveLastSuccessOnlyMovesOnACompletedPass(t *testing.T) {
	m := New(BuildInfo{Version: "test"})
	clock := time.Unix(1_800_000_000, 0)
	record := m.RegisterKeepAlive(func() time.Time { return clock })

	steps := []struct {
		name string
		at   time.Time
		pass KeepAlivePass
		want float64
	}{
		{"skipped before any pass", clock.Add(time.Minute), KeepAlivePass{}, 0},
		{"failed before any pass", clock.Add(2 * time.Minute), KeepAlivePass{Ran: true, Failed: true}, 0},
		{"completed", clock.Add(time.Hour), KeepAlivePass{Ran: true, Refreshed: 3, Errors: 1}, 1_800_003_600},
		{"failed later", clock.Add(2 * time.Hour), KeepAlivePass{Ran: true, Failed: true}, 1_800_003_600},
		{"skipped later: another replica ran it", clock.Add(3 * time.Hour), KeepAlivePass{}, 1_800_003_600},
		{"completed again", clock.Add(4*time.Hour + 500*time.Millisecond), KeepAlivePass{Ran: true}, 1_800_014_400.5},
	}
	for _, s := range steps {
		clock = s.at
		record(s.pass)
		assert.Equal(t, s.want, gauge(t, m, "auth_manager_keepalive_last_success_timestamp_seconds"), s.name)
	}
	text := scrape(t, m)
	assert.Contains(t, text, `auth_manager_keepalive_passes_total{result="ran"} 2`+"\n")
	assert.Contains(t, text, `auth_manager_keepalive_passes_total{result="failed"} 2`+"\n")
	assert.Contains(t, text, `auth_manager_keepalive_passes_total{result="skipped"} 2`+"\n")
	assert.Contains(t, text, `auth_manager_keepalive_rows_total{action="refreshed"} 3`+"\n")
}

func TestKeepAliveLastSuccessDefaultsToTheWallClock(t *testing.T) {
	m := New(BuildInfo{Version: "test"})
	record := m.RegisterKeepAlive(nil)
	before := float64(time.Now().Unix())
	record(KeepAlivePass{Ran: true})
	got := gauge(t, m, "auth_manager_keepalive_last_success_timestamp_seconds")
	assert.GreaterOrEqual(t, got, before)
	assert.LessOrEqual(t, got, float64(time.Now().Unix()+1))
}

// gauge reads the value of an unlabelled gauge from m's registry.
func gauge(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	families, err := m.reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			require.Len(t, f.GetMetric(), 1)
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not registered", name)
	return 0
}
