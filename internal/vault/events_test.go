package vault_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/audit"
	"github.com/auth-manager/auth-manager/internal/caller"
	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
	"github.com/auth-manager/auth-manager/internal/vault"
)

// userEvents returns "type/cause" of every event of user, oldest first.
func userEvents(t *testing.T, st *store.Store, user string) ([]string, []store.Event) {
	t.Helper()
	evs, err := st.EventsAfter(context.Background(), user, 0, 100)
	require.NoError(t, err)
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+"/"+e.Cause)
	}
	return out, evs
}

// TestRefreshEvents: Keycloak's refusal writes token.invalid with the marking (an
// offline row's names the consent URL); failures without a refusal announce
// token.refresh_failing once the run reaches FailingAfter, and the next success
// token.recovered; a run that never reached it ends silently.
func TestRefreshEvents(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	log := slog.New(slog.DiscardHandler)
	v := vault.New(st, ring, nil, vault.Options{Log: log, Audit: audit.New(log, nil), FailingAfter: 3,
		ConsentURL: "https://app.example.com/reconnect"})
	ctx := context.Background()

	t.Run("invalid", func(t *testing.T) {
		for _, typ := range []store.TokenType{store.Refresh, store.Offline} {
			user := uuid.NewString()
			row := put(t, st, ring, user, typ, jwt(typOf(typ), user), false)
			kc := &answer{err: &keycloak.Error{Op: "refresh", Status: 400, Code: "invalid_grant", Description: "Offline session not active"}}
			for range 2 {
				_, err := v.Refresh(ctx, row.ID, kc.exchange, vault.StoreSuccessor)
				require.True(t, keycloak.IsInvalidGrant(err))
			}
			got, evs := userEvents(t, st, user)
			require.Equal(t, []string{"token.invalid/invalid_grant"}, got, "once, with the marking")
			e := evs[0]
			assert.Equal(t, row.ID, e.RowID)
			assert.Equal(t, typ, e.TokenType)
			assert.Equal(t, row.SessionID, e.SessionID)
			assert.Equal(t, "invalid_grant", e.Details["error"])
			assert.Equal(t, "Offline session not active", e.Details["error_description"])
			if typ == store.Offline {
				assert.Equal(t, "https://app.example.com/reconnect", e.Details["consent_url"])
			} else {
				assert.NotContains(t, e.Details, "consent_url")
			}
			assert.WithinDuration(t, time.Now(), e.OccurredAt, time.Minute)
		}
	})

	t.Run("failing then recovered", func(t *testing.T) {
		user := uuid.NewString()
		row := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
		down := &answer{err: fmt.Errorf("%w: connection refused", keycloak.ErrUnavailable)}
		up := &answer{ts: keycloak.TokenSet{AccessToken: "access"}}
		for i := 1; i <= 4; i++ {
			_, err := v.Refresh(ctx, row.ID, down.exchange, vault.StoreSuccessor)
			require.ErrorIs(t, err, keycloak.ErrUnavailable)
			got, _ := userEvents(t, st, user)
			if i < 3 {
				assert.Empty(t, got, "failure %d: under the threshold", i)
			} else {
				assert.Equal(t, []string{"token.refresh_failing/keycloak_failing"}, got, "failure %d: announced once", i)
			}
		}
		for range 2 {
			_, err := v.Refresh(ctx, row.ID, up.exchange, vault.StoreSuccessor)
			require.NoError(t, err)
		}
		got, evs := userEvents(t, st, user)
		require.Equal(t, []string{"token.refresh_failing/keycloak_failing", "token.recovered/refreshed"}, got)
		assert.EqualValues(t, 3, evs[0].Details["failures"])
		assert.Equal(t, "keycloak unavailable", evs[0].Details["last_error"])
		assert.EqualValues(t, 4, evs[1].Details["failures"])
		assert.Greater(t, evs[1].Seq, evs[0].Seq)
	})

	t.Run("short run ends silently", func(t *testing.T) {
		user := uuid.NewString()
		row := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
		down := &answer{err: &keycloak.Error{Op: "refresh", Status: 500, Code: "unknown_error"}}
		for range 2 {
			_, err := v.Refresh(ctx, row.ID, down.exchange, vault.StoreSuccessor)
			require.Error(t, err)
		}
		_, err := v.Refresh(ctx, row.ID, (&answer{ts: keycloak.TokenSet{AccessToken: "a"}}).exchange, vault.StoreSuccessor)
		require.NoError(t, err)
		for range 2 {
			_, err := v.Refresh(ctx, row.ID, down.exchange, vault.StoreSuccessor)
			require.Error(t, err)
		}
		got, _ := userEvents(t, st, user)
		assert.Empty(t, got, "two failures, a success, two failures: the run restarted")
	})
}

// TestNoEventWithoutItsChange: a refusal whose marking is not committed leaves no
// token.invalid behind.
func TestNoEventWithoutItsChange(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	user := uuid.NewString()
	row := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
	fs := &failingCommit{Store: st, failures: 1}
	v := vault.New(fs, ring, nil, vault.Options{Log: testenv.DiscardLogger()})
	kc := &answer{err: &keycloak.Error{Op: "refresh", Status: 400, Code: "invalid_grant", Description: "Token is not active"}}

	_, err := v.Refresh(context.Background(), row.ID, kc.exchange, vault.StoreSuccessor)
	require.ErrorIs(t, err, store.ErrUnavailable)
	got, _ := userEvents(t, st, user)
	assert.Empty(t, got, "rolled back with the marking")
	after, err := st.Get(context.Background(), row.ID)
	require.NoError(t, err)
	assert.Equal(t, store.StatusActive, after.Status)

	_, err = v.Refresh(context.Background(), row.ID, kc.exchange, vault.StoreSuccessor)
	require.True(t, keycloak.IsInvalidGrant(err))
	got, _ = userEvents(t, st, user)
	assert.Equal(t, []string{"token.invalid/invalid_grant"}, got)
}

// TestDeletionEvents: every deleted row gets one event in the deleting transaction:
// token.deleted for a row deleted by a caller, session.ended for rows whose session
// ended, and the clean-up of an invalid row says which by the recorded refusal.
func TestDeletionEvents(t *testing.T) {
	testenv.Integration(t)
	st := openStore(t)
	ring := testRing(t, newKeyHex)
	v := vault.New(st, ring, nil, vault.Options{Log: testenv.DiscardLogger()})
	ctx := context.Background()
	user := uuid.NewString()

	taken := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
	_, err := v.Take(ctx, caller.Caller{Service: true, ClientID: "batch"}, taken.ID, store.Offline)
	require.NoError(t, err)

	a := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
	b := put(t, st, ring, user, store.Refresh, jwt("Refresh", user), false)
	_, err = st.Pool().Exec(ctx, `UPDATE auth_vault SET session_state_id = $1 WHERE id = $2`, a.SessionID, b.ID)
	require.NoError(t, err)
	gone, err := v.DeleteBySession(ctx, vault.Ending{Cause: vault.CauseBackchannelLogout, Reason: "back-channel logout"},
		a.SessionID, user, store.Refresh, store.Offline)
	require.NoError(t, err)
	require.Len(t, gone, 2)

	refused := map[string]string{"Session not active": "session.ended/cleanup", "Token is not active": "token.deleted/cleanup"}
	var want []string
	for why, ev := range refused {
		r := put(t, st, ring, user, store.Offline, jwt("Offline", user), false)
		_, err := st.Pool().Exec(ctx, `UPDATE auth_vault SET status = 'invalid', last_error = $1, updated_at = now() - interval '1 hour' WHERE id = $2`,
			"invalid_grant: "+why, r.ID)
		require.NoError(t, err)
		want = append(want, ev)
	}
	cleaned, err := v.DeleteInvalid(ctx, time.Now(), 10)
	require.NoError(t, err)
	require.Len(t, cleaned, 2)

	got, evs := userEvents(t, st, user)
	require.Len(t, got, 5)
	assert.Equal(t, "token.deleted/service", got[0])
	assert.Equal(t, taken.ID, evs[0].RowID)
	assert.Equal(t, []string{"session.ended/backchannel_logout", "session.ended/backchannel_logout"}, got[1:3])
	assert.ElementsMatch(t, []string{a.ID, b.ID}, []string{evs[1].RowID, evs[2].RowID})
	assert.Equal(t, "back-channel logout", evs[1].Details["reason"])
	assert.ElementsMatch(t, want, got[3:])
}
