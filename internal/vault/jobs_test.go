package vault_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// TestRefreshIdle: the keep-alive's refresh presents a row's token only while the row
// is still active and unused since the given time; a row kept alive (or refused)
// since it was claimed is left alone without asking Keycloak.
func TestRefreshIdle(t *testing.T) {
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	f := newFixture(t, st, ring)
	ctx := context.Background()
	user := uuid.NewString()
	row := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
	_, err := st.Pool().Exec(ctx, `UPDATE auth_vault SET created_at = now() - interval '2 days' WHERE id = $1`, row.ID)
	require.NoError(t, err)
	idleSince := time.Now().Add(-24 * time.Hour)
	var calls atomic.Int64
	successor := jwt("Offline", user)
	exchange := func(_ context.Context, token string) (keycloak.TokenSet, error) {
		calls.Add(1)
		return keycloak.TokenSet{AccessToken: "at", RefreshToken: successor, Expiry: time.Now().Add(time.Minute)}, nil
	}

	require.NoError(t, f.v.RefreshIdle(ctx, row.ID, idleSince, exchange))
	assert.EqualValues(t, 1, calls.Load())
	after, err := st.Get(ctx, row.ID)
	require.NoError(t, err)
	require.NotNil(t, after.LastUsedAt)
	assert.WithinDuration(t, time.Now(), *after.LastUsedAt, time.Minute)
	got, err := f.v.Open(after)
	require.NoError(t, err)
	assert.Equal(t, successor, got, "the successor is stored")

	err = f.v.RefreshIdle(ctx, row.ID, idleSince, exchange)
	assert.ErrorIs(t, err, vault.ErrNotIdle, "used since: a second claim on it refreshes nothing")
	assert.EqualValues(t, 1, calls.Load())

	_, err = st.Pool().Exec(ctx, `UPDATE auth_vault SET status = 'invalid', last_used_at = NULL WHERE id = $1`, row.ID)
	require.NoError(t, err)
	assert.ErrorIs(t, f.v.RefreshIdle(ctx, row.ID, time.Now(), exchange), vault.ErrNotIdle, "an invalid row is not kept alive")
	assert.ErrorIs(t, f.v.RefreshIdle(ctx, uuid.NewString(), time.Now(), exchange), vault.ErrNotFound)
	assert.EqualValues(t, 1, calls.Load())
}
