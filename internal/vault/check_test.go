package vault_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// TestCheck: doctor's view of the vault counts what opens under the configured keys
// in a bounded sample, and which sampled legacy rows would be refused, without
// changing a row.
func TestCheck(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	v := vault.New(st, ring, nil, vault.Options{})
	ctx := context.Background()

	empty, err := v.Check(ctx, 50)
	require.NoError(t, err)
	assert.Equal(t, vault.KeyReport{RowsExact: true}, empty)

	a, b := uuid.NewString(), uuid.NewString()
	put(t, st, ring, a, store.Refresh, jwt("Refresh", a), false)
	put(t, st, ring, b, store.Offline, jwt("Offline", b), false)
	put(t, st, ring, a, store.Offline, jwt("Offline", a), true)                               // legacy, own token
	put(t, st, ring, a, store.Offline, jwt("Offline", b), true)                               // legacy, b's token
	unknown := put(t, st, testRing(t, oldKeyHex), b, store.Refresh, jwt("Refresh", b), false) // a key the ring lacks

	rep, err := v.Check(ctx, 50)
	require.NoError(t, err)
	assert.Equal(t, vault.KeyReport{Rows: 5, RowsExact: true, Sampled: 5, Opened: 4, Unusable: 1, Legacy: 2, LegacySampled: 2,
		LegacyMismatch: 1}, rep)

	few, err := v.Check(ctx, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, few.Sampled, "the sample is bounded")
	assert.Equal(t, 2, few.LegacySampled)
	assert.Equal(t, 5, few.Rows)

	after, err := st.Get(ctx, unknown.ID)
	require.NoError(t, err)
	assert.Equal(t, unknown.Sealing, after.Sealing, "Check changes nothing")
}
