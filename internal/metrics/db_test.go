package metrics

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vaultRows returns the exported vault_rows series as "type/status" → value.
func vaultRows(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	families, err := m.reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "auth_manager_vault_rows" {
			continue
		}
		for _, s := range f.GetMetric() {
			key := ""
			for _, l := range s.GetLabel() {
				key += l.GetValue() + "/"
			}
			out[key] = s.GetGauge().GetValue()
		}
	}
	return out
}

// TestVaultRowsOnlyWhileElected: the replica that holds the election exports the
// figures (every series, zeros included); one that does not exports none and never
// counts.
func TestVaultRowsOnlyWhileElected(t *testing.T) {
	m := New(BuildInfo{Version: "test"})
	elected, counted := true, 0
	v := m.RegisterVaultRows(func(context.Context) ([]RowCount, error) {
		counted++
		return []RowCount{{Type: "offline", Status: "active", Count: 7}}, nil
	}, func(context.Context) bool { return elected })

	v.Refresh(t.Context())
	got := vaultRows(t, m)
	assert.Len(t, got, 4, "every type and status, zeros included")
	assert.Equal(t, 7.0, got["active/offline/"])

	elected = false
	v.Refresh(t.Context())
	assert.Empty(t, vaultRows(t, m), "no series from a replica that is not elected")
	assert.Equal(t, 1, counted, "and no count")

	elected = true
	v.Refresh(t.Context())
	assert.Len(t, vaultRows(t, m), 4)
	assert.Equal(t, 2, counted)
}
