package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// reissueSetup starts a service on a realm of its own created with opt (rotation mode
// as given), runs Alice's offline consent and returns the service, the stored row and
// Alice's access token.
func reissueSetup(t *testing.T, opt testenv.RealmOptions, mode string) (*testenv.Service, string, string) {
	t.Helper()
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	cfg.Keycloak.RefreshTokenRotation = mode
	svc := testenv.StartConsentService(t, cfg)
	realm.Create(opt)
	browser := testenv.NewBrowser(t)
	alice := realm.BrowserLogin(t, browser, testenv.Alice, testenv.ServiceClient, testenv.ServiceClientSecret, "")
	id, _ := offlineConsent(t, svc, browser, alice.AccessToken, testenv.User{})
	return svc, id, alice.AccessToken
}

// TestReissueUnderRotation: on a realm that rotates refresh tokens, POST
// /v1/offline-token-id is 409 rotation_enabled with a reason saying what to do, and
// the source row still mints; on a realm that does not, reissue works as before.
func TestReissueUnderRotation(t *testing.T) {
	t.Parallel()
	t.Run("rotating realm", func(t *testing.T) {
		t.Parallel()
		svc, id, alice := reissueSetup(t, testenv.RealmOptions{Rotation: true}, keycloak.RotationAuto)
		resp := svc.Do(t, http.MethodPost, "/v1/offline-token-id", alice, nil)
		require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
		env := resp.JSON(t)
		assert.Equal(t, "rotation_enabled", env["code"])
		assert.Contains(t, env["reason"], "consent flow again")
		resp = accessToken(t, svc, alice, id, "")
		assert.Equal(t, http.StatusOK, resp.Status, "the source row still mints: %s", resp.Body)
		rows, err := svc.App.Store.ListByUser(context.Background(), testenv.Claims(t, alice)["sub"].(string))
		require.NoError(t, err)
		assert.Len(t, rows, 1, "no second row on the token chain")
		assert.Contains(t, svc.Logs.String(), "refreshTokenMaxReuse 0", "the WARN about max reuse 0")
	})
	t.Run("non-rotating realm", func(t *testing.T) {
		t.Parallel()
		svc, id, alice := reissueSetup(t, testenv.RealmOptions{}, keycloak.RotationAuto)
		resp := svc.Do(t, http.MethodPost, "/v1/offline-token-id", alice, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		second := resp.Data(t)["persistent_token_id"].(string)
		assert.NotEqual(t, id, second)
		for _, row := range []string{id, second} {
			resp = accessToken(t, svc, alice, row, "")
			assert.Equal(t, http.StatusOK, resp.Status, "row %s: %s", row, resp.Body)
		}
		assert.NotContains(t, svc.Logs.String(), "refreshTokenMaxReuse 0")
	})
	t.Run("KEYCLOAK_REFRESH_TOKEN_ROTATION=on needs no admin API", func(t *testing.T) {
		t.Parallel()
		svc, id, alice := reissueSetup(t, testenv.RealmOptions{NoViewRealm: true}, keycloak.RotationOn)
		resp := svc.Do(t, http.MethodPost, "/v1/offline-token-id", alice, nil)
		require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
		assert.Equal(t, http.StatusOK, accessToken(t, svc, alice, id, "").Status)
	})
	t.Run("auto without view-realm falls back to off with a warning", func(t *testing.T) {
		t.Parallel()
		svc, _, _ := reissueSetup(t, testenv.RealmOptions{NoViewRealm: true, Rotation: true, RefreshTokenMaxReuse: 1},
			keycloak.RotationAuto)
		require.Eventually(t, func() bool {
			return strings.Contains(svc.Logs.String(), "needs the view-realm role")
		}, 15*time.Second, 50*time.Millisecond)
		assert.Equal(t, keycloak.Rotation{}, svc.App.Rotation.Current(context.Background()), "off, although the realm rotates")
	})
}
