package harness

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatCPU(t *testing.T) {
	// Field 2 may hold spaces and parentheses; utime=250 and stime=50 ticks are fields 14, 15.
	stat := "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 8 0 100 0 0"
	d, err := parseStatCPU(stat)
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, d)

	for _, bad := range []string{"", "4242 no-paren S 1", "1 (x) S 1 2 3"} {
		_, err := parseStatCPU(bad)
		assert.Error(t, err, bad)
	}
}

func TestStatusKB(t *testing.T) {
	status := "Name:\tauth-manager\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\n"
	assert.EqualValues(t, 40960, statusKB(status, "VmHWM:"))
	assert.EqualValues(t, 20480, statusKB(status, "VmRSS:"))
	assert.EqualValues(t, 0, statusKB(status, "VmSwap:"))
}

func TestOwnProcessCounters(t *testing.T) {
	p := &Proc{Pid: os.Getpid()}
	_, err := p.CPU()
	require.NoError(t, err)
	peak, rss, err := p.Memory()
	require.NoError(t, err)
	assert.Positive(t, rss)
	assert.GreaterOrEqual(t, peak, rss)
}

func TestSample(t *testing.T) {
	for _, tc := range []struct {
		line string
		name string
		v    float64
		ok   bool
	}{
		{`auth_manager_keycloak_requests_total{op="introspect",outcome="ok"} 42`, "auth_manager_keycloak_requests_total", 42, true},
		{`process_cpu_seconds_total 1.5`, "process_cpu_seconds_total", 1.5, true},
		{`weird{label="a } b"} 3`, "weird", 3, true},
		{`# HELP x y`, "", 0, false},
		{``, "", 0, false},
		{`novalue{a="b"}`, "", 0, false},
	} {
		name, v, ok := sample(tc.line)
		assert.Equal(t, tc.ok, ok, tc.line)
		if tc.ok {
			assert.Equal(t, tc.name, name)
			assert.InDelta(t, tc.v, v, 1e-9)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for raw, ok := range map[string]bool{
		"http://127.0.0.1:8080":                    true,
		"postgres://u:p@localhost:5432/db":         true,
		"http://[::1]:8080":                        true,
		"http://keycloak.example.com":              false,
		"postgres://u:p@10.0.0.5:5432/db?sslmode=": false,
	} {
		assert.Equal(t, ok, loopbackOnly("X", raw) == nil, raw)
	}
}

func TestParseMachineCPU(t *testing.T) {
	m := parseMachineCPU("cpu  100 5 50 800 20 3 2 10 7 0\ncpu0 50 2 25 400 10 1 1 5 3 0\n")
	assert.True(t, m.ok)
	assert.Equal(t, 1700*time.Millisecond, m.busy, "user+nice+system+irq+softirq+steal ticks at 100 Hz")
	assert.Equal(t, 9900*time.Millisecond, m.total, "plus idle and iowait")
	assert.False(t, parseMachineCPU("intr 1 2 3\n").ok)
	assert.False(t, parseMachineCPU("cpu 1 2 x 4 5 6 7 8\n").ok)
}
