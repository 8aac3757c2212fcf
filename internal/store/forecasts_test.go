package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

func newRow(t *testing.T, st *store.Store, user string) store.Meta {
	t.Helper()
	row, err := st.Create(context.Background(), store.Row{Meta: store.Meta{ID: store.NewID(), UserID: user, Type: store.Offline,
		SessionID: "sid-" + uuid.NewString()}, Sealing: store.Sealing{EncryptedToken: "00", IV: "00", TokenHash: "h"}})
	require.NoError(t, err)
	return row.Meta
}

// TestSaveForecastsAnnouncesEachDeadlineOnce: token.expiring is appended the first
// time a deadline is to be announced, not again for the same deadline, again for a new
// one; a row deleted meanwhile is skipped without failing the others.
func TestSaveForecastsAnnouncesEachDeadlineOnce(t *testing.T) {
	st := testenv.MigratedStore(t, 4)
	ctx := context.Background()
	user := uuid.NewString()
	a, gone := newRow(t, st, user), newRow(t, st, user)
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	later := at.Add(time.Hour)
	f := func(m store.Meta, when time.Time, announce bool) store.Forecast {
		return store.Forecast{Row: m, ExpiresAt: &when, Basis: "offline_session_max_lifespan", Announce: announce}
	}

	n, err := st.SaveForecasts(ctx, []store.Forecast{f(a, at, false)})
	require.NoError(t, err)
	assert.Zero(t, n, "outside the horizon: recorded, not announced")
	for _, want := range []int{1, 0} {
		n, err = st.SaveForecasts(ctx, []store.Forecast{f(a, at, true)})
		require.NoError(t, err)
		assert.Equal(t, want, n)
	}
	_, err = st.Delete(ctx, gone.ID, store.Why{Cause: "test"})
	require.NoError(t, err)
	n, err = st.SaveForecasts(ctx, []store.Forecast{f(gone, at, true), f(a, later, true)})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "a new deadline is announced; the deleted row is skipped")

	fs, err := st.Forecasts(ctx, []string{a.ID, gone.ID})
	require.NoError(t, err)
	require.Contains(t, fs, a.ID)
	assert.NotContains(t, fs, gone.ID)
	assert.True(t, later.Equal(*fs[a.ID].ExpiresAt))
	evs, err := st.EventsAfter(ctx, user, 0, 10)
	require.NoError(t, err)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	assert.Equal(t, []string{"token.expiring", "token.deleted", "token.expiring"}, types)
}
