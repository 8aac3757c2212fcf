package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// updateFixture is a store (direct or through PgBouncer) with one REFRESH row and the
// store that reads it directly.
func updateFixture(t *testing.T, pgbouncer bool) (st, direct *store.Store, row store.Row) {
	t.Helper()
	direct, url := migratedStore(t)
	st = direct
	if pgbouncer {
		var err error
		st, err = store.Open(context.Background(), store.Options{URL: testenv.ThroughPgBouncer(t, url), MaxConns: 2,
			TransactionPooling: true}, testenv.DiscardLogger())
		require.NoError(t, err)
		t.Cleanup(st.Close)
	}
	row, err := direct.Create(context.Background(), store.Row{
		Meta:    store.Meta{ID: store.NewID(), UserID: uuid.NewString(), Type: store.Refresh, SessionID: "sid"},
		Sealing: store.Sealing{EncryptedToken: "aa", IV: "00", TokenHash: uuid.NewString()},
	})
	require.NoError(t, err)
	return st, direct, row
}

func access(token string) *store.Access {
	return &store.Access{EncryptedToken: token, IV: "00", MAC: "m", KeyID: "k", TokenType: "Bearer", Scope: "openid",
		ExpiresAt: time.Now().Add(5 * time.Minute).Truncate(time.Microsecond)}
}

// TestUpdateWritesAllOrNothing: Update's transaction (BEGIN with the lock, COMMIT with
// the writes, each in one round trip) writes the row and its access token together;
// a closure's error, a refused write and ErrUnchanged leave both as they were, release
// the row lock and give the connection back in a usable state, directly and through
// PgBouncer in transaction mode.
func TestUpdateWritesAllOrNothing(t *testing.T) {
	for _, pgbouncer := range []bool{false, true} {
		name := "direct"
		if pgbouncer {
			name = "pgbouncer"
		}
		t.Run(name, func(t *testing.T) {
			st, direct, row := updateFixture(t, pgbouncer)
			ctx := context.Background()
			write := func(token, status string) func(context.Context, store.Row, *store.Access) (store.Change, error) {
				return func(_ context.Context, cur store.Row, _ *store.Access) (store.Change, error) {
					cur.EncryptedToken, cur.Status = token, store.Status(status)
					return store.Change{Row: cur, Access: access("access-" + token), Succeeded: true}, nil
				}
			}
			got, err := st.Update(ctx, row.ID, write("bb", "active"))
			require.NoError(t, err)
			assert.Equal(t, "bb", got.EncryptedToken)

			var seen *store.Access
			_, err = st.Update(ctx, row.ID, func(_ context.Context, _ store.Row, minted *store.Access) (store.Change, error) {
				seen = minted
				return store.Change{}, store.ErrUnchanged
			})
			require.NoError(t, err)
			require.NotNil(t, seen, "the access token written with the row is read under the lock")
			assert.Equal(t, "access-bb", seen.EncryptedToken)

			// More failures than the pool has connections: a connection left inside its
			// transaction, or a lock left held, would make the next call wait; and a
			// failed Update rolls back on its connection, which the pool keeps.
			opened := st.Pool().Stat().NewConnsCount()
			boom := errors.New("boom")
			for range 4 {
				_, err = st.Update(ctx, row.ID, func(context.Context, store.Row, *store.Access) (store.Change, error) {
					return store.Change{}, boom
				})
				require.ErrorIs(t, err, boom)
				_, err = st.Update(ctx, row.ID, write("cc", "bogus")) // the status CHECK refuses the write
				require.ErrorIs(t, err, store.ErrDatabase)
			}
			_, kept, err := direct.GetWithAccess(ctx, row.ID)
			require.NoError(t, err)
			require.NotNil(t, kept)
			assert.Equal(t, "access-bb", kept.EncryptedToken, "no refused write left its access token")
			assert.Equal(t, opened, st.Pool().Stat().NewConnsCount(), "no connection was discarded")

			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			got, err = st.Update(wctx, row.ID, write("dd", "active"))
			require.NoError(t, err, "neither the lock nor a connection was left behind")
			assert.Equal(t, "dd", got.EncryptedToken)

			cur, minted, err := direct.GetWithAccess(ctx, row.ID)
			require.NoError(t, err)
			assert.Equal(t, store.StatusActive, cur.Status)
			require.NotNil(t, minted)
			assert.Equal(t, "access-dd", minted.EncryptedToken)
		})
	}
}

// TestUpdateLeavesARunAnnouncedMeanwhile: a success clears the row's run of failed
// refreshes, except one announced after Update read it (by a refresh that failed
// before this one took the lock), which stays until the next success announces its
// end: an announced run never ends without token.recovered.
func TestUpdateLeavesARunAnnouncedMeanwhile(t *testing.T) {
	st, _, row := updateFixture(t, false)
	ctx := context.Background()
	_, err := st.RecordRefreshFailure(ctx, row.Meta, "keycloak unavailable", 2)
	require.NoError(t, err)
	succeed := func(during func()) {
		t.Helper()
		_, err := st.Update(ctx, row.ID, func(_ context.Context, cur store.Row, _ *store.Access) (store.Change, error) {
			during()
			return store.Change{Row: cur, Succeeded: true}, nil
		})
		require.NoError(t, err)
	}
	succeed(func() {
		announced, err := st.RecordRefreshFailure(ctx, row.Meta, "keycloak unavailable", 2)
		require.NoError(t, err)
		require.True(t, announced, "the second failure reaches the threshold while the success holds the lock")
	})
	types := func() []string {
		evs, err := st.EventsAfter(ctx, row.UserID, 0, 10)
		require.NoError(t, err)
		var out []string
		for _, e := range evs {
			out = append(out, e.Type)
		}
		return out
	}
	assert.Equal(t, []string{store.EventRefreshFailing}, types(), "the run announced meanwhile is not ended silently")

	succeed(func() {})
	assert.Equal(t, []string{store.EventRefreshFailing, store.EventRecovered}, types())
	succeed(func() {})
	assert.Len(t, types(), 2, "the run is gone")
}
