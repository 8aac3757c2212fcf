package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/doctor"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// failFrom sends n failures from this test's address (127.0.0.1, Keycloak's address
// too): forged bearer tokens to validate-token, or forged logout tokens to the
// back-channel receiver, half of them under the realm's key id with a signature that
// does not verify and half not even JWT-shaped. It returns how many were answered 429.
func failFrom(t *testing.T, svc *testenv.Service, n int, kid string, logout bool) (limited int) {
	t.Helper()
	for i := range n {
		tok := forged(t, kid, logout)
		if i%2 == 1 {
			tok = fmt.Sprintf("garbage-%d", i)
		}
		var status int
		if logout {
			status = postLogout(t, svc, tok).Status
		} else {
			status = svc.Do(t, http.MethodGet, "/v1/validate-token", tok, nil).Status
		}
		switch status {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusUnauthorized, http.StatusBadRequest:
		default:
			t.Errorf("failure %d answered %d", i, status)
		}
	}
	return limited
}

// TestFailuresNeverLockOutGoodCallers: 100 failures from one address (50 forged
// bearer tokens, 50 forged logout tokens, each surface over its limit) do not lock
// out a genuine caller at that address, nor Keycloak's back-channel logout from it:
// the genuine token is served, and after an admin sign-out at Keycloak the user's
// stored row is gone within 2 s. Forged tokens from the address are still refused
// with 429.
func TestFailuresNeverLockOutGoodCallers(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	cfg.Edge.RateLimit, cfg.Edge.RateLimitWindow = 20, time.Minute // no window turns over during the test
	svc := testenv.StartService(t, cfg)
	realm.Create(testenv.RealmOptions{BackchannelURL: svc.URL + "/v1/backchannel-logout"})
	kid := realmKeyID(t, realm)
	alice := realm.Login(t, testenv.Alice, "")
	aliceID := realm.UserID(t, testenv.Alice)

	limitedCallers := failFrom(t, svc, 50, kid, false)
	limitedLogouts := failFrom(t, svc, 50, kid, true)
	t.Logf("FIGURES 100 failures from 127.0.0.1, limit 20/min: validate-token limited=%d/50, backchannel-logout limited=%d/50",
		limitedCallers, limitedLogouts)
	require.Equal(t, 30, limitedCallers, "the bearer surface is over its limit")
	require.Equal(t, 30, limitedLogouts, "the logout surface is over its limit")

	resp := svc.Do(t, http.MethodGet, "/v1/validate-token", alice.AccessToken, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	row := storeOwnRefresh(t, svc, alice)
	assert.Equal(t, http.StatusTooManyRequests, svc.Do(t, http.MethodGet, "/v1/validate-token", forged(t, kid, false), nil).Status,
		"forged tokens from the address are still limited")
	assert.Equal(t, http.StatusTooManyRequests, postLogout(t, svc, forged(t, kid, true)).Status)

	start := time.Now()
	realm.LogoutUser(t, aliceID)
	require.Eventually(t, func() bool { return !rowExists(t, svc, row) }, 2*time.Second, 10*time.Millisecond,
		"Keycloak's back-channel logout was refused: the row stayed")
	t.Logf("FIGURES admin sign-out to row gone: %s", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, http.StatusUnauthorized, svc.Do(t, http.MethodGet, "/v1/validate-token", alice.AccessToken, nil).Status,
		"the signed-out session's token is refused, not limited")
	assert.Contains(t, svc.Logs.String(), `"event":"backchannel_logout","request_id"`)
}

// TestDoctorAtStartIsNotAUserAction: doctor's probe of the back-channel logout URL
// (run at every start) writes no audit event and counts against no limit, and it is
// answered even from an address over the limit.
func TestDoctorAtStartIsNotAUserAction(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	cfg.Edge.RateLimit, cfg.Edge.RateLimitWindow = 1, time.Minute
	svc := testenv.StartService(t, cfg)
	realm.Create(testenv.RealmOptions{BackchannelURL: svc.URL + "/v1/backchannel-logout"})
	logoutCheck := func() doctor.Result {
		t.Helper()
		for _, c := range svc.App.Doctor(context.Background()).Checks {
			if c.Check == doctor.CheckLogoutURL {
				return c
			}
		}
		t.Fatal("no back-channel logout check in doctor's report")
		return doctor.Result{}
	}

	c := logoutCheck()
	require.True(t, c.OK, "%+v", c)
	require.Contains(t, c.Detail, "answers as auth-manager")
	logs := svc.Logs.String()
	assert.NotContains(t, logs, `"msg":"audit"`, "doctor's probe is not audited")
	assert.Contains(t, logs, `"route":"/v1/backchannel-logout","status":400`, "the probe did reach the service")

	// With a limit of 1, the probe's failure would have used it up.
	assert.Equal(t, http.StatusBadRequest, postLogout(t, svc, "garbage").Status, "the probe counted against the limit")
	assert.Equal(t, http.StatusTooManyRequests, postLogout(t, svc, "garbage").Status, "the limit is in play")

	c = logoutCheck()
	assert.True(t, c.OK, "the probe from an address over the limit: %+v", c)
	assert.False(t, strings.Contains(svc.Logs.String(), `"event":"backchannel_logout"`), "no audit event at all")
}
