package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

func TestOfflineConsentAfterConsentRedirect(t *testing.T) {
	cfg := testenv.NewServiceConfig(t)
	cfg.Keycloak.AfterConsentRedirectURI = "http://127.0.0.1:9/app/offline-done?tab=jobs"
	svc := testenv.StartConsentService(t, cfg)
	alice := testenv.Login(t, testenv.Alice).AccessToken

	cb := consent(t, svc, alice, testenv.Alice)
	resp := callback(t, cb)
	require.Equal(t, http.StatusFound, resp.Status, string(resp.Body))
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9/app/offline-done", loc.Scheme+"://"+loc.Host+loc.Path)
	q := loc.Query()
	assert.Equal(t, "jobs", q.Get("tab"), "the configured query is kept")
	id := q.Get("persistent_token_id")
	row, _ := storedOffline(t, svc, id)
	assert.Equal(t, row.SessionID, q.Get("session_state_id"))
	assert.Equal(t, cb.Query().Get("session_state"), q.Get("session_state_id"))
	assert.False(t, q.Has("error"))
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))

	resp = callback(t, cb) // replayed: the error goes to the browser's next page too
	require.Equal(t, http.StatusFound, resp.Status)
	loc, err = url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	q = loc.Query()
	assert.Equal(t, "invalid_ack_state", q.Get("error"))
	assert.Equal(t, "used", q.Get("reason"))
	assert.NotEmpty(t, q.Get("error_description"))
	assert.False(t, q.Has("persistent_token_id"))
	for _, secret := range []string{cb.Query().Get("code"), cb.Query().Get("state")} {
		assert.NotContains(t, resp.Header.Get("Location"), secret)
	}
	assert.NotContains(t, svc.Logs.String(), "eyJ", "no JWT (state, token) in any log line")
}

// faults makes the service's calls to Keycloak's admin API and revocation endpoint
// fail on demand, which the real Keycloak cannot be made to do.
type faults struct{ admin, revoke atomic.Bool }

func (f *faults) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		if (f.admin.Load() && strings.Contains(r.URL.Path, "/admin/realms/")) ||
			(f.revoke.Load() && strings.HasSuffix(r.URL.Path, "/protocol/openid-connect/revoke")) {
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
				Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		}
		return rt.RoundTrip(r)
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestOfflineRevokeWhenKeycloakFails: the row is gone either way, and the answer says
// what Keycloak did not do instead of pretending success.
func TestOfflineRevokeWhenKeycloakFails(t *testing.T) {
	f := &faults{}
	svc := testenv.StartConsentService(t, testenv.NewServiceConfig(t), app.WithKeycloakTransport(f.wrap))
	alice := testenv.Login(t, testenv.Alice).AccessToken
	sub := testenv.Claims(t, alice)["sub"].(string)
	stored := func() (string, string, string) {
		resp := callback(t, consent(t, svc, alice, testenv.Alice))
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		id := resp.Data(t)["persistent_token_id"].(string)
		row, token := storedOffline(t, svc, id)
		return id, row.SessionID, token
	}

	t.Run("admin API down: the token is revoked instead", func(t *testing.T) {
		id, sid, token := stored()
		f.admin.Store(true)
		defer f.admin.Store(false)
		resp := svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+id, alice, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		d := resp.Data(t)
		assert.Equal(t, true, d["token_deleted"])
		assert.Equal(t, false, d["session_revoked"], "not confirmed, so not claimed")
		assert.Contains(t, d["message"], "revoked at Keycloak")
		assert.Contains(t, d["message"], "admin API failed")
		assert.Equal(t, http.StatusNotFound, accessToken(t, svc, alice, id, "").Status)
		status, _ := testenv.RefreshAtKeycloak(t, testenv.Realm, token)
		assert.Equal(t, http.StatusBadRequest, status, "nothing can mint tokens any more")
		assert.NotContains(t, testenv.OfflineSessionIDs(t, sub), sid)
	})
	t.Run("Keycloak down: the answer says the session lives on", func(t *testing.T) {
		id, sid, token := stored()
		f.admin.Store(true)
		f.revoke.Store(true)
		resp := svc.Do(t, http.MethodDelete, "/v1/offline-token-id?id="+id, alice, nil)
		f.admin.Store(false)
		f.revoke.Store(false)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		d := resp.Data(t)
		assert.Equal(t, true, d["token_deleted"])
		assert.Equal(t, false, d["session_revoked"])
		assert.Contains(t, d["message"], "stays valid at Keycloak")
		assert.Equal(t, http.StatusNotFound, accessToken(t, svc, alice, id, "").Status, "the row is gone")
		assert.Contains(t, testenv.OfflineSessionIDs(t, sub), sid, "truthfully: Keycloak still has it")
		require.NoError(t, svc.App.Keycloak.Revoke(context.Background(), token, "refresh_token")) // tidy up
	})
}
