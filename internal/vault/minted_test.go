package vault_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/seal"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// minter is a fake Keycloak that mints a new access token, living life, on every call.
type minter struct {
	calls atomic.Int64
	life  time.Duration
	gate  chan struct{} // when set, each call waits for one value (or its ctx)
}

func (m *minter) exchange(ctx context.Context, _ string) (keycloak.TokenSet, error) {
	m.calls.Add(1)
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return keycloak.TokenSet{}, ctx.Err()
		}
	}
	return keycloak.TokenSet{AccessToken: "access-" + uuid.NewString(), TokenType: "Bearer",
		Scope: "openid profile", Expiry: time.Now().Add(m.life)}, nil
}

func newVault(st vault.Store, ring *seal.Ring, concurrency int) *vault.Service {
	log := testenv.DiscardLogger()
	return vault.New(st, ring, nil, vault.Options{Log: log, Audit: audit.New(log, nil), KeycloakConcurrency: concurrency})
}

func accessRows(t *testing.T, st *store.Store, id string) int {
	t.Helper()
	var n int
	require.NoError(t, st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM auth_vault_access WHERE row_id = $1`, id).Scan(&n))
	return n
}

// TestMintStoresTheAccessTokenForEveryReplica: the access token a refresh obtained is
// kept sealed for the row; Minted and Mint answer it while it outlives min_ttl (Keycloak
// is not asked), to the row's owner only; a longer min_ttl or force refreshes again.
func TestMintStoresTheAccessTokenForEveryReplica(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	v := newVault(st, ring, 0)
	ctx := context.Background()
	user := uuid.NewString()
	row := put(t, st, ring, user, store.Refresh, jwt("Refresh", user), false)
	owner := caller.Caller{Subject: user}
	kc := &minter{life: 5 * time.Minute}

	before, err := v.Minted(ctx, owner, row.ID, 0)
	require.NoError(t, err)
	assert.False(t, before.Stored, "nothing minted yet")
	assert.Equal(t, row.ID, before.Meta.ID)

	first, err := v.Mint(ctx, row.ID, 30*time.Second, false, kc.exchange)
	require.NoError(t, err)
	assert.False(t, first.Stored)
	assert.EqualValues(t, 1, kc.calls.Load())

	var ct, mac, keyID, typ, scope string
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT encrypted_token, mac, key_id, token_type, scope FROM auth_vault_access WHERE row_id = $1`,
		row.ID).Scan(&ct, &mac, &keyID, &typ, &scope))
	assert.NotContains(t, ct, first.Tokens.AccessToken, "sealed, not plain")
	assert.NotEmpty(t, mac)
	assert.Equal(t, ring.CurrentKeyID(), keyID)
	assert.Equal(t, "Bearer", typ)
	assert.Equal(t, "openid profile", scope)

	got, err := v.Minted(ctx, owner, row.ID, 30*time.Second)
	require.NoError(t, err)
	require.True(t, got.Stored)
	assert.Equal(t, first.Tokens.AccessToken, got.Tokens.AccessToken)
	assert.WithinDuration(t, first.Tokens.Expiry, got.Tokens.Expiry, time.Millisecond)
	assert.Equal(t, "openid profile", got.Tokens.Scope)

	again, err := v.Mint(ctx, row.ID, 30*time.Second, false, kc.exchange)
	require.NoError(t, err)
	assert.True(t, again.Stored, "a stored token that outlives min_ttl is the answer")
	assert.Equal(t, first.Tokens.AccessToken, again.Tokens.AccessToken)
	assert.EqualValues(t, 1, kc.calls.Load(), "Keycloak was not asked")

	_, err = v.Minted(ctx, caller.Caller{Subject: uuid.NewString()}, row.ID, 0)
	require.ErrorIs(t, err, vault.ErrNotFound, "another user sees no row, and no token")

	short, err := v.Minted(ctx, owner, row.ID, 10*time.Minute)
	require.NoError(t, err)
	assert.False(t, short.Stored, "a token that does not outlive min_ttl is not served")
	longer, err := v.Mint(ctx, row.ID, 10*time.Minute, false, kc.exchange)
	require.NoError(t, err)
	assert.False(t, longer.Stored)
	assert.NotEqual(t, first.Tokens.AccessToken, longer.Tokens.AccessToken)
	assert.EqualValues(t, 2, kc.calls.Load())

	forced, err := v.Mint(ctx, row.ID, 0, true, kc.exchange)
	require.NoError(t, err)
	assert.False(t, forced.Stored, "force always asks Keycloak")
	assert.EqualValues(t, 3, kc.calls.Load())
	latest, err := v.Minted(ctx, owner, row.ID, 0)
	require.NoError(t, err)
	assert.Equal(t, forced.Tokens.AccessToken, latest.Tokens.AccessToken, "the newest token replaced the stored one")
	assert.Equal(t, 1, accessRows(t, st, row.ID))

	plain, err := v.Refresh(ctx, row.ID, kc.exchange, vault.StoreSuccessor)
	require.NoError(t, err)
	latest, err = v.Minted(ctx, owner, row.ID, 0)
	require.NoError(t, err)
	assert.NotEqual(t, plain.Tokens.AccessToken, latest.Tokens.AccessToken, "Refresh (an offline reissue) stores no access token")
}

// TestMintedTokenHasItsOwnPurpose: the sealed access token is bound to its row under a
// purpose of its own: copied over the row's refresh token it does not open, the row's
// refresh token copied into the access table is not served, and neither is a stored
// token without its tag.
func TestMintedTokenHasItsOwnPurpose(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	v := newVault(st, ring, 0)
	ctx := context.Background()
	user := uuid.NewString()
	row := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
	owner := caller.Caller{Subject: user}
	kc := &minter{life: 5 * time.Minute}
	_, err := v.Mint(ctx, row.ID, 0, false, kc.exchange)
	require.NoError(t, err)

	var access store.Row
	access.Meta = row.Meta
	require.NoError(t, st.Pool().QueryRow(ctx, `SELECT encrypted_token, iv, mac, key_id FROM auth_vault_access WHERE row_id = $1`, row.ID).
		Scan(&access.EncryptedToken, &access.IV, &access.MAC, &access.KeyID))
	_, err = v.Open(access)
	require.ErrorIs(t, err, vault.ErrUnusable, "an access-token ciphertext never opens as the row's offline token")

	_, err = st.Pool().Exec(ctx, `UPDATE auth_vault_access a SET encrypted_token = v.encrypted_token, iv = v.iv, mac = v.mac, key_id = v.key_id
		FROM auth_vault v WHERE v.id = a.row_id AND a.row_id = $1`, row.ID)
	require.NoError(t, err)
	got, err := v.Minted(ctx, owner, row.ID, 0)
	require.NoError(t, err)
	assert.False(t, got.Stored, "the row's own sealed token is not served as an access token")

	_, err = v.Mint(ctx, row.ID, 0, false, kc.exchange)
	require.NoError(t, err)
	assert.EqualValues(t, 2, kc.calls.Load(), "what does not open is refreshed and overwritten")
	_, err = st.Pool().Exec(ctx, `UPDATE auth_vault_access SET mac = '', key_id = '' WHERE row_id = $1`, row.ID)
	require.NoError(t, err)
	got, err = v.Minted(ctx, owner, row.ID, 0)
	require.NoError(t, err)
	assert.False(t, got.Stored, "an untagged ciphertext is bound to nothing and never opened")
}

// TestMintedTokenGoesWithItsRow: the stored access token is deleted with its row, and
// dropped when the row is marked invalid or changes session; a refresh that leaves the
// row as it was keeps it.
func TestMintedTokenGoesWithItsRow(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	v := newVault(st, ring, 0)
	ctx := context.Background()
	kc := &minter{life: 5 * time.Minute}
	minted := func(t *testing.T) store.Row {
		user := uuid.NewString()
		row := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
		_, err := v.Mint(ctx, row.ID, 0, false, kc.exchange)
		require.NoError(t, err)
		require.Equal(t, 1, accessRows(t, st, row.ID))
		return row
	}
	t.Run("deleted", func(t *testing.T) {
		row := minted(t)
		_, err := st.Delete(ctx, row.ID, store.Why{Cause: "test"})
		require.NoError(t, err)
		assert.Zero(t, accessRows(t, st, row.ID))
	})
	t.Run("marked invalid by Keycloak's refusal", func(t *testing.T) {
		row := minted(t)
		refused := &answer{err: &keycloak.Error{Op: "refresh", Status: 400, Code: "invalid_grant", Description: "Token is not active"}}
		_, err := v.Mint(ctx, row.ID, 0, true, refused.exchange)
		require.True(t, keycloak.IsInvalidGrant(err), "%v", err)
		assert.Zero(t, accessRows(t, st, row.ID))
		_, err = v.Mint(ctx, row.ID, 0, false, kc.exchange)
		require.True(t, keycloak.IsInvalidGrant(err), "an invalid row answers its refusal, never a stored token")
	})
	t.Run("moved to another session", func(t *testing.T) {
		row := minted(t)
		_, err := st.Pool().Exec(ctx, `UPDATE auth_vault SET session_state_id = 'another' WHERE id = $1`, row.ID)
		require.NoError(t, err)
		assert.Zero(t, accessRows(t, st, row.ID))
	})
	t.Run("used", func(t *testing.T) {
		row := minted(t)
		_, err := st.Pool().Exec(ctx, `UPDATE auth_vault SET last_used_at = now(), updated_at = now() WHERE id = $1`, row.ID)
		require.NoError(t, err)
		assert.Equal(t, 1, accessRows(t, st, row.ID))
	})
}

// TestMintWaitsForAnotherReplicasRefresh: two vaults with pools of their own on one
// database stand for two replicas. B's miss arrives while A's refresh of the same row
// is at Keycloak: B waits for the row lock, then answers A's token without asking
// Keycloak itself.
func TestMintWaitsForAnotherReplicasRefresh(t *testing.T) {
	testenv.Integration(t)
	stA := openStore(t)
	stB, err := store.Open(context.Background(), store.Options{URL: dbURL(t, stA), MaxConns: 4}, testenv.DiscardLogger())
	require.NoError(t, err)
	t.Cleanup(stB.Close)
	ring := testRing(t, newKeyHex)
	a, b := newVault(stA, ring, 0), newVault(stB, ring, 0)
	ctx := context.Background()
	user := uuid.NewString()
	row := put(t, stA, ring, user, store.Refresh, jwt("Refresh", user), false)

	kcA := &minter{life: 5 * time.Minute, gate: make(chan struct{})}
	kcB := &minter{life: 5 * time.Minute}
	var fromA, fromB vault.Refreshed
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { fromA, errA = a.Mint(ctx, row.ID, 30*time.Second, false, kcA.exchange) })
	require.Eventually(t, func() bool { return kcA.calls.Load() == 1 }, 5*time.Second, 5*time.Millisecond, "A is at Keycloak")
	wg.Go(func() { fromB, errB = b.Mint(ctx, row.ID, 30*time.Second, false, kcB.exchange) })
	require.Eventually(t, func() bool { return lockWaiters(t, stA) >= 1 }, 5*time.Second, 5*time.Millisecond, "B waits for the row lock")
	kcA.gate <- struct{}{}
	wg.Wait()
	require.NoError(t, errA)
	require.NoError(t, errB)
	assert.False(t, fromA.Stored)
	assert.True(t, fromB.Stored, "B answers the token A stored")
	assert.Equal(t, fromA.Tokens.AccessToken, fromB.Tokens.AccessToken)
	assert.Zero(t, kcB.calls.Load(), "B never asked Keycloak")
}

// dbURL is the URL of st's database.
func dbURL(t *testing.T, st *store.Store) string {
	t.Helper()
	return st.Pool().Config().ConnString()
}

// lockWaiters counts the sessions of st's database waiting for a lock.
func lockWaiters(t *testing.T, st *store.Store) int {
	var n int
	require.NoError(t, st.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n))
	return n
}

// TestRefreshSlotsLeaveThePoolToOthers: with a pool of 4 and at most 2 refreshes at
// once, 6 refreshes of distinct rows stuck at Keycloak hold 2 connections; the others
// wait for a slot without one, so listings still answer at once, and a refresh whose
// deadline passes while it waits fails with the deadline, never reaching Keycloak.
func TestRefreshSlotsLeaveThePoolToOthers(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t) // MaxConns 4
	ring := testRing(t, newKeyHex)
	v := newVault(st, ring, 2)
	ctx := context.Background()
	user := uuid.NewString()
	var rows []store.Row
	for range 6 {
		rows = append(rows, put(t, st, ring, user, store.Offline, jwt("Offline", user), false))
	}
	kc := &minter{life: 5 * time.Minute, gate: make(chan struct{})}
	var wg sync.WaitGroup
	errs := make([]error, len(rows))
	for i, r := range rows {
		wg.Go(func() { _, errs[i] = v.Mint(ctx, r.ID, 0, false, kc.exchange) })
	}
	require.Eventually(t, func() bool { return kc.calls.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	assert.EqualValues(t, 2, kc.calls.Load(), "no more than 2 at Keycloak at once")

	start := time.Now()
	for range 10 {
		listed, err := v.ListByUser(ctx, user)
		require.NoError(t, err)
		require.Len(t, listed, len(rows))
	}
	assert.Less(t, time.Since(start), time.Second, "listings are not starved of connections")

	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := v.Mint(dctx, rows[0].ID, 0, true, kc.exchange)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "waiting for a slot is bounded by the caller's deadline")

	close(kc.gate)
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "refresh %d", i)
	}
	assert.EqualValues(t, len(rows), kc.calls.Load(), "each row refreshed once, two at a time")
}

// TestRefreshShedAfterSlotWait: a refresh that finds no free slot within SlotWait is
// shed with ErrBusy (503 service_unavailable, reason keycloak_busy), never reaching
// Keycloak, while the refresh holding the slot completes.
func TestRefreshShedAfterSlotWait(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	log := testenv.DiscardLogger()
	v := vault.New(st, ring, nil, vault.Options{Log: log, Audit: audit.New(log, nil), KeycloakConcurrency: 1, SlotWait: 100 * time.Millisecond})
	ctx := context.Background()
	user := uuid.NewString()
	first := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
	second := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
	kc := &minter{life: 5 * time.Minute, gate: make(chan struct{})}
	var wg sync.WaitGroup
	var errFirst error
	wg.Go(func() { _, errFirst = v.Mint(ctx, first.ID, 0, false, kc.exchange) })
	require.Eventually(t, func() bool { return kc.calls.Load() == 1 }, 5*time.Second, 5*time.Millisecond)

	start := time.Now()
	_, err := v.Mint(ctx, second.ID, 0, false, kc.exchange)
	require.ErrorIs(t, err, vault.ErrBusy)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.EqualValues(t, 1, kc.calls.Load(), "the shed refresh never reached Keycloak")
	close(kc.gate)
	wg.Wait()
	require.NoError(t, errFirst)
}
