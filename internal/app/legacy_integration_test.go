package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// insertLegacy writes a row as the Python service does (no integrity tag).
func insertLegacy(t *testing.T, svc *testenv.Service, key, userID, typ, token, sid string) string {
	t.Helper()
	ct, iv := pythonEncrypt(t, key, token)
	sum := sha256.Sum256([]byte(token))
	id := uuid.NewString()
	_, err := svc.App.Store.Pool().Exec(context.Background(), `INSERT INTO auth_vault
		(id, user_id, token_type, encrypted_token, iv, token_hash, session_state_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, userID, typ, ct, iv, hex.EncodeToString(sum[:]), sid)
	require.NoError(t, err)
	return id
}

// TestLegacyRowCannotMoveATokenBetweenUsers: a legacy row of user A that holds user
// B's refresh token is 409 token_unusable, never presented to Keycloak, never
// re-sealed, and audited; a legacy row that holds A's own token works and is sealed
// with a tag by its first refresh.
func TestLegacyRowCannotMoveATokenBetweenUsers(t *testing.T) {
	calls := &testenv.CallCounter{}
	cfg := testenv.NewServiceConfig(t)
	svc := testenv.StartService(t, cfg, app.WithKeycloakTransport(calls.Wrap))
	alice, bob := testenv.Login(t, testenv.Alice), testenv.Login(t, testenv.Bob)
	aliceID := testenv.Claims(t, alice.AccessToken)["sub"].(string)
	key := cfg.EncryptionKey.Reveal()

	moved := insertLegacy(t, svc, key, aliceID, "REFRESH", bob.RefreshToken, sid(t, alice))
	before, err := svc.App.Store.Get(context.Background(), moved)
	require.NoError(t, err)
	n := calls.TokenCalls()
	resp := accessToken(t, svc, alice.AccessToken, moved, "")
	assert.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
	assert.Equal(t, "token_unusable", resp.JSON(t)["code"])
	assert.Equal(t, n, calls.TokenCalls(), "the moved token was presented to Keycloak")
	after, err := svc.App.Store.Get(context.Background(), moved)
	require.NoError(t, err)
	assert.Empty(t, after.MAC, "not re-sealed")
	assert.Equal(t, before.Sealing, after.Sealing)
	assert.Contains(t, svc.Logs.String(), `"event":"token_unusable"`)
	assert.Contains(t, svc.Logs.String(), "legacy row holds a token of another user than the row's")

	_, err = svc.App.Store.Delete(context.Background(), moved, store.Why{Cause: "test"})
	require.NoError(t, err)
	own := insertLegacy(t, svc, key, aliceID, "REFRESH", alice.RefreshToken, sid(t, alice))
	resp = accessToken(t, svc, alice.AccessToken, own, "")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	assert.NotEmpty(t, resp.Data(t)["access_token"])
	row, err := svc.App.Store.Get(context.Background(), own)
	require.NoError(t, err)
	assert.NotEmpty(t, row.MAC, "sealed with a tag")
	assert.Equal(t, svc.App.Vault.Ring().CurrentKeyID(), row.KeyID)
}

// TestOfflineTokenStoredAsRefreshIsOffline: an offline token submitted to
// POST /v1/refresh-token becomes an OFFLINE row, leaves the user's REFRESH row alone,
// and still mints after the online session it came from is logged out. A token of
// another type is 422 naming the field.
func TestOfflineTokenStoredAsRefreshIsOffline(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	svc := testenv.StartConsentService(t, realm.ServiceConfig(t))
	rec := newLogoutRecorder(t, svc.URL)
	realm.Create(testenv.RealmOptions{BackchannelURL: rec.URL + "/v1/backchannel-logout"})
	service := serviceToken(t, realm)

	online := realm.Login(t, testenv.Alice, "")
	refreshID := storeOwnRefresh(t, svc, online)
	off := realm.Login(t, testenv.Alice, "offline_access")
	require.Equal(t, "Offline", testenv.Claims(t, off.RefreshToken)["typ"])
	// Submitted by the user's online login, as a front end would.
	submitted := testenv.Tokens{AccessToken: online.AccessToken, RefreshToken: off.RefreshToken}
	offlineID := storeOwnRefresh(t, svc, submitted)
	assert.NotEqual(t, refreshID, offlineID, "the one-REFRESH-row rule does not replace it")
	again := storeOwnRefresh(t, svc, submitted)
	assert.Equal(t, offlineID, again, "storing the same offline token again is a no-op")

	row, err := svc.App.Store.Get(context.Background(), offlineID)
	require.NoError(t, err)
	assert.Equal(t, store.Offline, row.Type)
	assert.Equal(t, testenv.Claims(t, off.RefreshToken)["sid"], row.SessionID, "bound to its offline session")
	assert.NotEqual(t, sid(t, online), row.SessionID, "not to the online session that submitted it")
	refreshRow, err := svc.App.Store.Get(context.Background(), refreshID)
	require.NoError(t, err)
	assert.Equal(t, store.Refresh, refreshRow.Type)

	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", online.AccessToken, map[string]any{"refresh_token": online.AccessToken})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
	assert.Equal(t, "validation_error", resp.JSON(t)["code"])
	assert.Contains(t, string(resp.Body), "body.refresh_token")

	// The online session that submitted both tokens ends: Keycloak notifies the
	// service, and the REFRESH row goes; the OFFLINE row stays and mints. (An admin
	// "sign out" of the user would not do: it also sets the user's not-before, which
	// makes every older token stale, offline ones included.)
	realm.DeleteSession(t, sid(t, online), false)
	require.Eventually(t, func() bool { return len(rec.take()) > 0 }, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return !rowExists(t, svc, refreshID) }, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return len(rec.take()) == 0 && rowExists(t, svc, offlineID)
	}, 5*time.Second, 500*time.Millisecond)
	resp = accessToken(t, svc, service, offlineID, "")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	assert.NotEmpty(t, resp.Data(t)["access_token"])
}
