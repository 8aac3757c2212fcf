package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// publicKeycloak is the realm's public name in TestKeycloakURL: the .invalid TLD never
// resolves, so any call the service made to it would fail.
const publicKeycloak = "sso.public.invalid:8443"

// hostRecorder records the host of every request the service sends to Keycloak.
type hostRecorder struct {
	mu    sync.Mutex
	hosts map[string]int
}

func (h *hostRecorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		h.mu.Lock()
		if h.hosts == nil {
			h.hosts = map[string]int{}
		}
		h.hosts[r.URL.Host]++
		h.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (h *hostRecorder) seen() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, v := range h.hosts {
		out[k] = v
	}
	return out
}

// TestKeycloakURL runs the service as it runs in a cluster: the realm's public name
// (its frontendUrl, the iss of every token) does not resolve where the service runs,
// and the service reaches Keycloak at another address, here a local TCP forwarder
// (KEYCLOAK_URL). Validation in both modes, refresh, the sessions admin API, the
// consent flow and back-channel logout all work, every call goes to the forwarder,
// and a token whose iss is the internal address is refused.
func TestKeycloakURL(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	kc, err := url.Parse(testenv.KeycloakBase(t))
	require.NoError(t, err)
	fwd := testenv.Forward(t, kc.Host)
	configure := func(mode string) config.Config {
		cfg := realm.ServiceConfig(t)
		cfg.Keycloak.BaseURL = "http://" + publicKeycloak
		cfg.Keycloak.URL = "http://" + fwd.Addr
		cfg.Auth.Mode = mode
		return cfg
	}
	hosts := &hostRecorder{}
	svc := testenv.StartConsentService(t, configure(config.AuthModeIntrospect), app.WithKeycloakTransport(hosts.wrap))
	jwtSvc := testenv.StartService(t, configure(config.AuthModeJWT), app.WithKeycloakTransport(hosts.wrap))
	rec := newLogoutRecorder(t, svc.URL)
	realm.Create(testenv.RealmOptions{FrontendURL: "http://" + publicKeycloak, BackchannelURL: rec.URL + "/v1/backchannel-logout"})
	publicIssuer := "http://" + publicKeycloak + "/realms/" + realm.Name
	service := serviceToken(t, realm)

	alice := realm.Login(t, testenv.Alice, "")
	require.Equal(t, publicIssuer, testenv.Claims(t, alice.AccessToken)["iss"], "the realm issues under its public name")
	aliceID := testenv.Claims(t, alice.AccessToken)["sub"].(string)

	t.Run("validation in both modes accepts the public issuer", func(t *testing.T) {
		for _, s := range []*testenv.Service{svc, jwtSvc} {
			resp := s.Do(t, http.MethodGet, "/v1/validate-token", alice.AccessToken, nil)
			require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
			assert.Equal(t, aliceID, resp.Data(t)["sub"], string(resp.Body))
		}
	})

	var rowID string
	t.Run("refresh", func(t *testing.T) {
		rowID = storeOwnRefresh(t, svc, alice)
		resp := accessToken(t, svc, service, rowID, "&min_ttl=3600")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		fresh := resp.Data(t)["access_token"].(string)
		assert.NotEqual(t, alice.AccessToken, fresh)
		assert.Equal(t, publicIssuer, testenv.Claims(t, fresh)["iss"])
	})

	t.Run("admin API", func(t *testing.T) {
		list := listSessions(t, svc, alice.AccessToken, "")
		assert.NotEmpty(t, sessionsOfType(list, "online"), "alice's session, listed through the admin API")
	})

	t.Run("consent URL is public and the flow completes", func(t *testing.T) {
		bob := realm.Login(t, testenv.Bob, "")
		consent := consentURL(t, svc, bob.AccessToken)
		u, err := url.Parse(consent)
		require.NoError(t, err)
		assert.Equal(t, publicIssuer+"/protocol/openid-connect/auth", u.Scheme+"://"+u.Host+u.Path,
			"the browser gets the public authorization endpoint")
		b := testenv.NewBrowser(t)
		b.Resolve(publicKeycloak, kc.Host)
		resp := callback(t, b.Authorize(consent, testenv.Bob))
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		assert.NotEmpty(t, resp.Data(t)["persistent_token_id"])
	})

	t.Run("back-channel logout", func(t *testing.T) {
		require.True(t, rowExists(t, svc, rowID))
		realm.LogoutUser(t, aliceID)
		calls := rec.take()
		require.NotEmpty(t, calls)
		for _, c := range calls {
			assert.Equal(t, http.StatusOK, c.status, "%v", c.body)
			assert.Equal(t, publicIssuer, testenv.Claims(t, c.token)["iss"])
		}
		require.Eventually(t, func() bool { return !rowExists(t, svc, rowID) }, 5*time.Second, 20*time.Millisecond)
	})

	t.Run("every call went to KEYCLOAK_URL", func(t *testing.T) {
		seen := hosts.seen()
		assert.Equal(t, []string{fwd.Addr}, keys(seen), "hosts the service called: %v", seen)
		assert.Positive(t, fwd.Conns.Load())
	})

	t.Run("a token with the internal issuer is refused", func(t *testing.T) {
		realm.SetFrontendURL(t, "")
		carol := realm.Login(t, testenv.Carol, "")
		require.True(t, strings.HasPrefix(testenv.Claims(t, carol.AccessToken)["iss"].(string), testenv.KeycloakBase(t)+"/realms/"),
			"without its public name the realm issues under Keycloak's own address")
		for _, s := range []*testenv.Service{svc, jwtSvc} {
			resp := s.Do(t, http.MethodGet, "/v1/validate-token", carol.AccessToken, nil)
			assert.Equal(t, http.StatusUnauthorized, resp.Status, string(resp.Body))
		}
		resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", carol.AccessToken, map[string]any{"refresh_token": carol.RefreshToken})
		assert.Equal(t, http.StatusUnauthorized, resp.Status, string(resp.Body))
	})
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
