package harness

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCPUSets(t *testing.T) {
	for _, tc := range []struct {
		p         Placement
		n         int
		drv, meas string
	}{
		{Shared, 2, "0-1", "0-1"}, {Pinned, 2, "0", "1"}, {Pinned, 4, "0-1", "2-3"}, {Pinned, 3, "0", "1-2"}, {Pinned, 1, "0-0", "0-0"},
	} {
		drv, meas := cpuSets(tc.p, tc.n)
		assert.Equal(t, tc.drv, drv, "%v on %d", tc.p, tc.n)
		assert.Equal(t, tc.meas, meas, "%v on %d", tc.p, tc.n)
	}
	for list, want := range map[string]int{"0": 1, "1": 1, "0-1": 2, "2-3": 2, "1-2": 2, "?": 8} {
		assert.Equal(t, want, cpuCount(list, 8), list)
	}
}

func TestPlacements(t *testing.T) {
	p, err := Placements("both")
	require.NoError(t, err)
	assert.Equal(t, []Placement{Shared, Pinned}, p)
	p, err = Placements("pinned")
	require.NoError(t, err)
	assert.Equal(t, []Placement{Pinned}, p)
	_, err = Placements("sometimes")
	assert.Error(t, err)
}
