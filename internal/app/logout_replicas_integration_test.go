package app_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// refusedAfter polls validate-token with token on every replica until each refuses it
// (401) and returns how long after start each did; it fails the test past limit.
func refusedAfter(t *testing.T, start time.Time, limit time.Duration, token string, replicas ...*testenv.Service) []time.Duration {
	t.Helper()
	out := make([]time.Duration, len(replicas))
	var wg sync.WaitGroup
	for i, svc := range replicas {
		wg.Go(func() {
			for {
				resp := testenv.Do(t, http.MethodGet, svc.URL+"/v1/validate-token", token, nil)
				if resp.Status == http.StatusUnauthorized {
					out[i] = time.Since(start)
					return
				}
				if time.Since(start) > limit {
					out[i] = -1
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	for i, d := range out {
		require.GreaterOrEqual(t, d, time.Duration(0), "replica %d still accepts the token %s after the session ended", i, limit)
	}
	return out
}

// acceptedEverywhere checks that every replica accepts token, twice (the second
// answer comes from its cache).
func acceptedEverywhere(t *testing.T, token string, replicas ...*testenv.Service) {
	t.Helper()
	for i, svc := range replicas {
		for range 2 {
			resp := svc.Do(t, http.MethodGet, "/v1/validate-token", token, nil)
			require.Equal(t, http.StatusOK, resp.Status, "replica %d: %s", i, resp.Body)
		}
	}
}

// TestLogoutIsImmediateOnEveryReplica: two replicas (separate caches, one database)
// accept a user's token; when the session ends — Keycloak's admin logout with the
// back-channel logout URL on replica A, DELETE /v1/sessions/{id} on A, DELETE
// /v1/tokens/{id} on A — both refuse the token within 2 s, in both auth modes, though
// their caches (introspection TTL 300 s, the maximum) would keep it.
func TestLogoutIsImmediateOnEveryReplica(t *testing.T) {
	for _, mode := range []string{config.AuthModeIntrospect, config.AuthModeJWT} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			realm := testenv.DefineRealm(t)
			cfg := realm.ServiceConfig(t)
			cfg.Auth.Mode = mode
			cfg.Auth.IntrospectionTTL = 300 * time.Second
			a := testenv.StartConsentService(t, cfg)
			b := testenv.StartService(t, cfg)
			realm.Create(testenv.RealmOptions{BackchannelURL: a.URL + "/v1/backchannel-logout"})
			const limit = 2 * time.Second

			t.Run("admin logout, back-channel to replica A", func(t *testing.T) {
				alice := realm.Login(t, testenv.Alice, "")
				acceptedEverywhere(t, alice.AccessToken, a, b)
				aliceID := realm.UserID(t, testenv.Alice)
				start := time.Now()
				// Keycloak sends the back-channel logout before its admin call returns.
				realm.LogoutUser(t, aliceID)
				done := time.Now()
				d := refusedAfter(t, done, limit, alice.AccessToken, a, b)
				t.Logf("FIGURES mode=%s back-channel logout: Keycloak's admin logout call took %s; after it, refused on A after %s, on B after %s",
					mode, done.Sub(start), d[0], d[1])
			})

			t.Run("DELETE /v1/sessions/{id} on replica A", func(t *testing.T) {
				bob := realm.Login(t, testenv.Bob, "")
				acceptedEverywhere(t, bob.AccessToken, a, b)
				start := time.Now()
				resp := a.Do(t, http.MethodDelete, "/v1/sessions/"+sid(t, bob), bob.AccessToken, nil)
				require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
				d := refusedAfter(t, start, limit, bob.AccessToken, b, a)
				t.Logf("FIGURES mode=%s DELETE /v1/sessions: refused on B after %s, on A after %s", mode, d[0], d[1])
			})

			t.Run("DELETE /v1/tokens/{id} that revoked the session, on replica A", func(t *testing.T) {
				carol := realm.Login(t, testenv.Carol, "")
				id := storeOwnRefresh(t, a, carol)
				acceptedEverywhere(t, carol.AccessToken, a, b)
				start := time.Now()
				resp := a.Do(t, http.MethodDelete, "/v1/tokens/"+id, carol.AccessToken, nil)
				require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
				require.Equal(t, true, resp.Data(t)["session_revoked"], string(resp.Body))
				d := refusedAfter(t, start, limit, carol.AccessToken, b, a)
				t.Logf("FIGURES mode=%s DELETE /v1/tokens: refused on B after %s, on A after %s", mode, d[0], d[1])
			})
			t.Run("admin sign-out of a user with two sessions (Keycloak notifies one)", func(t *testing.T) {
				first, second := realm.Login(t, testenv.Alice, ""), realm.Login(t, testenv.Alice, "")
				require.NotEqual(t, sid(t, first), sid(t, second))
				acceptedEverywhere(t, first.AccessToken, a, b)
				acceptedEverywhere(t, second.AccessToken, a, b)
				aliceID := realm.UserID(t, testenv.Alice)
				// The per-user rule covers tokens issued in a second before the logout's
				// arrival (iat has whole seconds): let the clock pass into the next one.
				time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
				realm.LogoutUser(t, aliceID)
				done := time.Now()
				// The notified session goes at once; the other one when the reconciliation
				// that follows a back-channel logout finds it gone from Keycloak's list
				// (0.5 s later, or 3 s if Keycloak had not removed it yet).
				d := refusedAfter(t, done, 5*time.Second, first.AccessToken, a, b)
				d = append(d, refusedAfter(t, done, 5*time.Second, second.AccessToken, a, b)...)
				t.Logf("FIGURES mode=%s admin sign-out of 2 sessions: after Keycloak's call, first session refused on A after %s, on B after %s; second on A after %s, on B after %s",
					mode, d[0], d[1], d[2], d[3])
			})
			assert.Contains(t, a.Logs.String(), `"event":"backchannel_logout"`)
		})
	}
}
