package harness

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMissCalls(t *testing.T) {
	ids := []string{"a", "b", "c"}
	t.Run("every call once, timed", func(t *testing.T) {
		var n atomic.Int64
		samples, err := missCalls(ids, 100, 4, func(id string) error {
			n.Add(1)
			assert.Contains(t, ids, id)
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, int64(100), n.Load())
		assert.Len(t, samples, 100)
	})
	t.Run("the first failure ends the run", func(t *testing.T) {
		var n atomic.Int64
		boom := errors.New("boom")
		_, err := missCalls(ids, 1000, 4, func(string) error {
			if n.Add(1) == 10 {
				return boom
			}
			// The others take a moment, as a real call does, so that they cannot run
			// the remaining calls before the failing one is recorded.
			time.Sleep(time.Millisecond)
			return nil
		})
		require.ErrorIs(t, err, boom)
		assert.Less(t, n.Load(), int64(1000))
	})
}
