package app_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// keycloakCalls sums the Keycloak client's call counter for op (all outcomes).
func keycloakCalls(t *testing.T, a *app.App, op string) int {
	t.Helper()
	mfs, err := a.Metrics.Registry().Gather()
	require.NoError(t, err)
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "auth_manager_keycloak_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == op {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return int(n)
}

// devRealmKeyID is the kid of the dev realm's RS256 signing key.
func devRealmKeyID(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(testenv.KeycloakBase(t) + "/realms/" + testenv.Realm + "/protocol/openid-connect/certs")
	require.NoError(t, err)
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	for _, k := range set.Keys {
		if k.Algorithm == "RS256" && k.Use == "sig" {
			return k.KeyID
		}
	}
	t.Fatal("no RS256 signing key in the dev realm's JWKS")
	return ""
}

// forged is a JWT-shaped token under kid: a well-formed header, claims that would pass
// every other check (issuer, type, exp; a logout event when logout), random bytes as
// the signature. No two are alike.
func forged(t *testing.T, kid string, logout bool) string {
	t.Helper()
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	now := time.Now()
	claims := map[string]any{"iss": testenv.KeycloakBase(t) + "/realms/" + testenv.Realm,
		"sub": fmt.Sprintf("%x", rnd), "sid": fmt.Sprintf("%x", rnd[:8]), "azp": testenv.ServiceCallerClient,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": fmt.Sprintf("%x", rnd),
		"realm_access": map[string]any{"roles": []string{"auth-manager-service"}}}
	typ := "JWT"
	if logout {
		typ, claims["aud"] = "logout+jwt", testenv.ServiceClient
		claims["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
	} else {
		claims["typ"] = "Bearer"
	}
	h, err := json.Marshal(map[string]any{"alg": "RS256", "typ": typ, "kid": kid})
	require.NoError(t, err)
	p, err := json.Marshal(claims)
	require.NoError(t, err)
	sig := make([]byte, 256)
	_, _ = rand.Read(sig)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "." + enc(sig)
}

// forgedFigures are what one surface answered to forged tokens.
type forgedFigures struct {
	sent, refused, limited, introspections, jwksFetches int
}

// sendForged sends n distinct forged tokens (half under the realm's kid, half each
// under a kid of its own) to validate-token, or to backchannel-logout when logout.
func sendForged(t *testing.T, svc *testenv.Service, n int, kid string, logout bool) forgedFigures {
	t.Helper()
	intro0, jwks0 := keycloakCalls(t, svc.App, "introspect"), keycloakCalls(t, svc.App, "jwks")
	var f forgedFigures
	for i := range n {
		k := kid
		if i%2 == 1 {
			k = fmt.Sprintf("unknown-%d", i)
		}
		tok := forged(t, k, logout)
		var resp testenv.Response
		if logout {
			r, err := http.PostForm(svc.URL+"/v1/backchannel-logout", url.Values{"logout_token": {tok}})
			require.NoError(t, err)
			r.Body.Close()
			resp.Status = r.StatusCode
		} else {
			resp = svc.Do(t, http.MethodGet, "/v1/validate-token", tok, nil)
		}
		f.sent++
		switch resp.Status {
		case http.StatusUnauthorized, http.StatusBadRequest:
			f.refused++
		case http.StatusTooManyRequests:
			f.limited++
		default:
			t.Errorf("forged token %d answered %d", i, resp.Status)
		}
	}
	f.introspections = keycloakCalls(t, svc.App, "introspect") - intro0
	f.jwksFetches = keycloakCalls(t, svc.App, "jwks") - jwks0
	return f
}

// TestForgedTokensCostKeycloakNothing: 500 distinct forged tokens per mode and at the
// back-channel logout receiver make no introspection and at most one JWKS download per
// AUTH_MANAGER_JWKS_MIN_REFRESH (the start-up one included).
func TestForgedTokensCostKeycloakNothing(t *testing.T) {
	kid := devRealmKeyID(t)
	for _, mode := range []string{config.AuthModeIntrospect, config.AuthModeJWT} {
		t.Run(mode, func(t *testing.T) {
			cfg := testenv.NewServiceConfig(t)
			cfg.Auth.Mode = mode
			cfg.Auth.JWKSMinRefresh = time.Hour // the whole test is within one interval
			cfg.Edge.RateLimit = 0
			svc := testenv.StartService(t, cfg)

			// A genuine token first: it is accepted, and the realm's keys are fetched.
			alice := testenv.Login(t, testenv.Alice)
			require.Equal(t, http.StatusOK, svc.Do(t, http.MethodGet, "/v1/validate-token", alice.AccessToken, nil).Status)
			jwksBefore := keycloakCalls(t, svc.App, "jwks")
			assert.Equal(t, 1, jwksBefore, "the start-up fetch")

			start := time.Now()
			callers := sendForged(t, svc, 500, kid, false)
			logouts := sendForged(t, svc, 500, kid, true)
			t.Logf("FIGURES mode=%s validate-token: sent=%d refused=%d introspections=%d jwks_fetches=%d; backchannel-logout: sent=%d refused=%d introspections=%d jwks_fetches=%d; %s",
				mode, callers.sent, callers.refused, callers.introspections, callers.jwksFetches,
				logouts.sent, logouts.refused, logouts.introspections, logouts.jwksFetches, time.Since(start).Round(time.Millisecond))
			for _, f := range []forgedFigures{callers, logouts} {
				assert.Equal(t, 500, f.refused)
				assert.Zero(t, f.introspections)
				assert.Zero(t, f.jwksFetches, "within one JWKS_MIN_REFRESH of the start-up fetch")
			}
			require.Equal(t, http.StatusOK, svc.Do(t, http.MethodGet, "/v1/validate-token", alice.AccessToken, nil).Status,
				"the genuine token still works")
		})
	}
}

// TestFailedRequestsAreRateLimited: past AUTH_MANAGER_RATE_LIMIT failures per window,
// a client IP gets 429 rate_limited with Retry-After on each unauthenticated surface,
// and its forged tokens are not even checked; a genuine caller from another address
// (a trusted proxy's X-Forwarded-For) is unaffected. The client IP is in the access
// log and audit events.
func TestFailedRequestsAreRateLimited(t *testing.T) {
	kid := devRealmKeyID(t)
	cfg := testenv.NewServiceConfig(t)
	cfg.Auth.JWKSMinRefresh = time.Hour
	cfg.Edge.RateLimit, cfg.Edge.RateLimitWindow = 20, time.Minute // no window turns over during the test
	cfg.Edge.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	svc := testenv.StartService(t, cfg)

	callers := sendForged(t, svc, 500, kid, false)
	logouts := sendForged(t, svc, 500, kid, true)
	callbacks := 0
	for i := range 100 {
		resp := testenv.Do(t, http.MethodGet, svc.URL+"/v1/offline-token/callback?code=x&state=forged-"+fmt.Sprint(i), "", nil)
		if resp.Status == http.StatusTooManyRequests {
			callbacks++
		}
	}
	t.Logf("FIGURES rate limit 20/min: validate-token sent=%d refused=%d limited=%d introspections=%d jwks=%d; backchannel-logout sent=%d refused=%d limited=%d; callback sent=100 limited=%d",
		callers.sent, callers.refused, callers.limited, callers.introspections, callers.jwksFetches,
		logouts.sent, logouts.refused, logouts.limited, callbacks)
	for _, f := range []forgedFigures{callers, logouts} {
		assert.Equal(t, 20, f.refused)
		assert.Equal(t, 480, f.limited)
		assert.Zero(t, f.introspections)
	}
	assert.Equal(t, 80, callbacks)

	resp := svc.Do(t, http.MethodGet, "/v1/validate-token", forged(t, kid, false), nil)
	require.Equal(t, http.StatusTooManyRequests, resp.Status)
	assert.Equal(t, "rate_limited", resp.JSON(t)["code"])
	assert.Equal(t, "60", resp.Header.Get("Retry-After"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

	// Another client behind the trusted proxy is not limited, and its address is logged.
	alice := testenv.Login(t, testenv.Alice)
	req, err := http.NewRequest(http.MethodPost, svc.URL+"/v1/refresh-token", strings.NewReader(`{"refresh_token":"`+alice.RefreshToken+`"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+alice.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.23")
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode)
	logs := svc.Logs.String()
	assert.Contains(t, logs, `"client_ip":"198.51.100.23","method":"POST","path":"/v1/refresh-token"`)
	assert.Regexp(t, `"msg":"audit","event":"token_stored".*"client_ip":"198.51.100.23"`, logs)
	assert.NotContains(t, logs, `"client_ip":"6.6.6.6"`)
}
