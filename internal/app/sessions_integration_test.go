package app_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keepalive"
	"github.com/auth-manager/auth-manager/internal/store"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// The session tests run in realms of their own (testenv.DefineRealm): they count a
// user's sessions, log users out and shorten the offline idle timeout, which tests in
// the shared dev realm must never see. They are parallel with each other: most of
// their time is spent waiting for Keycloak's clocks.

// listSessions is GET /v1/sessions as bearer.
func listSessions(t *testing.T, svc *testenv.Service, bearer, query string) []map[string]any {
	t.Helper()
	resp := svc.Do(t, http.MethodGet, "/v1/sessions"+query, bearer, nil)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var env struct {
		Data []map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &env))
	return env.Data
}

// sessionsOfType returns the entries of type typ by session id.
func sessionsOfType(list []map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, s := range list {
		if s["type"] == typ {
			out[s["session_id"].(string)] = s
		}
	}
	return out
}

// storeOwnRefresh stores tk's refresh token as its user and returns the row id.
func storeOwnRefresh(t *testing.T, svc *testenv.Service, tk testenv.Tokens) string {
	t.Helper()
	resp := svc.Do(t, http.MethodPost, "/v1/refresh-token", tk.AccessToken, map[string]any{"refresh_token": tk.RefreshToken})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	return resp.Data(t)["persistent_token_id"].(string)
}

// offlineConsent runs the bearer's offline consent in browser b (logging in as u when
// b has no Keycloak session) and returns the stored row id and its offline session.
func offlineConsent(t *testing.T, svc *testenv.Service, b *testenv.Browser, bearer string, u testenv.User) (id, sid string) {
	t.Helper()
	resp := callback(t, b.Authorize(consentURL(t, svc, bearer), u))
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	d := resp.Data(t)
	return d["persistent_token_id"].(string), d["session_state_id"].(string)
}

func sid(t *testing.T, tk testenv.Tokens) string {
	t.Helper()
	return testenv.Claims(t, tk.AccessToken)["sid"].(string)
}

func rowExists(t *testing.T, svc *testenv.Service, id string) bool {
	t.Helper()
	_, err := svc.App.Store.Get(context.Background(), id)
	if err != nil {
		require.ErrorIs(t, err, store.ErrNotFound)
		return false
	}
	return true
}

func serviceToken(t *testing.T, realm *testenv.TestRealm) string {
	t.Helper()
	return testenv.ClientToken(t, realm.Name, testenv.ServiceCallerClient, testenv.ServiceCallerSecret).AccessToken
}

func TestSessionsList(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	svc := testenv.StartConsentService(t, realm.ServiceConfig(t))
	realm.Create(testenv.RealmOptions{})
	first := realm.Login(t, testenv.Alice, "")
	second := realm.Login(t, testenv.Alice, "")
	aliceID := testenv.Claims(t, first.AccessToken)["sub"].(string)

	list := listSessions(t, svc, first.AccessToken, "")
	require.Len(t, list, 2, "two logins, two online sessions: %v", list)
	online := sessionsOfType(list, "online")
	require.Contains(t, online, sid(t, first))
	require.Contains(t, online, sid(t, second))
	for _, s := range list {
		assert.Equal(t, []any{testenv.ServiceClient}, s["clients"])
		assert.Equal(t, []any{}, s["stored_token_ids"])
		assert.Equal(t, "127.0.0.1", s["ip_address"])
		started, err := time.Parse(time.RFC3339Nano, s["started_at"].(string))
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now(), started, time.Minute)
		_, err = time.Parse(time.RFC3339Nano, s["last_access_at"].(string))
		assert.NoError(t, err)
	}

	refreshID := storeOwnRefresh(t, svc, first)
	offlineID, offlineSID := offlineConsent(t, svc, testenv.NewBrowser(t), first.AccessToken, testenv.Alice)

	list = listSessions(t, svc, first.AccessToken, "")
	offline := sessionsOfType(list, "offline")
	require.Len(t, offline, 1, "the consent made one offline session: %v", list)
	require.Contains(t, offline, offlineSID)
	assert.Equal(t, []any{offlineID}, offline[offlineSID]["stored_token_ids"])
	online = sessionsOfType(list, "online")
	assert.Equal(t, []any{refreshID}, online[sid(t, first)]["stored_token_ids"], "the refresh token is bound to its session")
	assert.Equal(t, []any{}, online[sid(t, second)]["stored_token_ids"])

	t.Run("service callers name the user; users may not", func(t *testing.T) {
		service := serviceToken(t, realm)
		assert.ElementsMatch(t, list, listSessions(t, svc, service, "?user_id="+aliceID))
		bob := realm.Login(t, testenv.Bob, "")
		assert.Len(t, listSessions(t, svc, bob.AccessToken, ""), 1, "bob sees his own session only")
		resp := svc.Do(t, http.MethodGet, "/v1/sessions?user_id="+aliceID, bob.AccessToken, nil)
		assert.Equal(t, http.StatusForbidden, resp.Status)
		assert.Equal(t, "forbidden", resp.JSON(t)["code"])
		resp = svc.Do(t, http.MethodGet, "/v1/sessions?user_id=nope", service, nil)
		assert.Equal(t, http.StatusUnprocessableEntity, resp.Status)
		assert.Equal(t, http.StatusUnauthorized, svc.Do(t, http.MethodGet, "/v1/sessions", "", nil).Status)
		assert.Equal(t, []map[string]any{}, listSessions(t, svc, service, "?user_id=00000000-0000-4000-8000-000000000000"))
	})
}

func TestSessionsRevoke(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	svc := testenv.StartConsentService(t, realm.ServiceConfig(t))
	realm.Create(testenv.RealmOptions{})

	// One browser: an online session S1, the refresh token of it stored, and an offline
	// consent from the same Keycloak session, which Keycloak gives the same id.
	browser := testenv.NewBrowser(t)
	login := realm.BrowserLogin(t, browser, testenv.Alice, testenv.ServiceClient, testenv.ServiceClientSecret, "")
	s1 := sid(t, login)
	refreshID := storeOwnRefresh(t, svc, login)
	offlineID, offlineSID := offlineConsent(t, svc, browser, login.AccessToken, testenv.User{})
	require.Equal(t, s1, offlineSID, "Keycloak names the offline session after the browser's session")
	other := realm.Login(t, testenv.Alice, "")
	s2 := sid(t, other)
	bob := realm.Login(t, testenv.Bob, "")
	aliceID, bobID := realm.UserID(t, testenv.Alice), realm.UserID(t, testenv.Bob)
	service := serviceToken(t, realm)
	revoke := func(bearer, path string) testenv.Response {
		return svc.Do(t, http.MethodDelete, "/v1/sessions/"+path, bearer, nil)
	}

	t.Run("another user's session is not found", func(t *testing.T) {
		resp := revoke(other.AccessToken, sid(t, bob))
		require.Equal(t, http.StatusNotFound, resp.Status, string(resp.Body))
		assert.Equal(t, "session_not_found", resp.JSON(t)["code"])
		missing := revoke(other.AccessToken, "no-such-session")
		assert.JSONEq(t, string(missing.Body), string(resp.Body))
		assert.Contains(t, realm.OnlineSessionIDs(t, bobID), sid(t, bob))
	})
	t.Run("validation", func(t *testing.T) {
		for _, path := range []string{s1 + "?type=both", "a%20b", strings.Repeat("x", 129)} {
			resp := revoke(other.AccessToken, path)
			assert.Equal(t, http.StatusUnprocessableEntity, resp.Status, path)
		}
	})
	t.Run("online only: the refresh token goes, the offline token stays", func(t *testing.T) {
		resp := revoke(other.AccessToken, s1+"?type=online")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		d := resp.Data(t)
		assert.Equal(t, s1, d["session_id"])
		assert.Equal(t, true, d["revoked"])
		assert.Equal(t, []any{"online"}, d["ended"])
		assert.Equal(t, float64(1), d["tokens_deleted"])
		assert.NotContains(t, realm.OnlineSessionIDs(t, aliceID), s1)
		assert.Contains(t, realm.OfflineSessionIDs(t, aliceID), s1)
		assert.False(t, rowExists(t, svc, refreshID))
		assert.Equal(t, http.StatusNotFound, accessToken(t, svc, service, refreshID, "").Status)
		resp = accessToken(t, svc, other.AccessToken, offlineID, "")
		assert.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	})
	t.Run("the rest of the session, both types", func(t *testing.T) {
		resp := revoke(other.AccessToken, s1)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		d := resp.Data(t)
		assert.Equal(t, []any{"offline"}, d["ended"])
		assert.Equal(t, float64(1), d["tokens_deleted"])
		assert.NotContains(t, realm.OfflineSessionIDs(t, aliceID), s1)
		assert.False(t, rowExists(t, svc, offlineID))
		assert.Equal(t, http.StatusNotFound, accessToken(t, svc, service, offlineID, "").Status)
		assert.Equal(t, http.StatusNotFound, revoke(other.AccessToken, s1).Status, "nothing left of it")
	})
	t.Run("the other session is untouched", func(t *testing.T) {
		assert.Contains(t, realm.OnlineSessionIDs(t, aliceID), s2)
		status, e := testenv.RefreshAtKeycloak(t, realm.Name, other.RefreshToken)
		assert.Equal(t, http.StatusOK, status, e)
	})
	t.Run("ending an offline session ends the online one of the same id", func(t *testing.T) {
		b := testenv.NewBrowser(t)
		login := realm.BrowserLogin(t, b, testenv.Alice, testenv.ServiceClient, testenv.ServiceClientSecret, "")
		s3 := sid(t, login)
		rid := storeOwnRefresh(t, svc, login)
		oid, osid := offlineConsent(t, svc, b, login.AccessToken, testenv.User{})
		require.Equal(t, s3, osid)
		resp := revoke(login.AccessToken, s3+"?type=offline")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		d := resp.Data(t)
		assert.Equal(t, []any{"offline"}, d["ended"])
		assert.Equal(t, float64(2), d["tokens_deleted"])
		assert.Contains(t, d["message"], "online session of the same id")
		assert.NotContains(t, realm.OnlineSessionIDs(t, aliceID), s3)
		assert.NotContains(t, realm.OfflineSessionIDs(t, aliceID), s3)
		assert.False(t, rowExists(t, svc, rid))
		assert.False(t, rowExists(t, svc, oid))
	})
	t.Run("a service caller ends any session", func(t *testing.T) {
		resp := revoke(service, sid(t, bob))
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		assert.Equal(t, []any{"online"}, resp.Data(t)["ended"])
		assert.NotContains(t, realm.OnlineSessionIDs(t, bobID), sid(t, bob))
		assert.Equal(t, http.StatusNotFound, revoke(service, sid(t, bob)).Status)
	})
}

// logoutRecorder stands between Keycloak and the service at the back-channel logout
// URL: it forwards each request and keeps the logout token with the service's answer.
type logoutRecorder struct {
	*httptest.Server
	mu    sync.Mutex
	calls []logoutCall
}

type logoutCall struct {
	token  string
	status int
	body   map[string]any
}

func newLogoutRecorder(t *testing.T, target string) *logoutRecorder {
	rec := &logoutRecorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		resp, err := http.PostForm(target+r.URL.Path, r.PostForm)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		rec.mu.Lock()
		rec.calls = append(rec.calls, logoutCall{token: r.PostForm.Get("logout_token"), status: resp.StatusCode, body: body})
		rec.mu.Unlock()
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(b)
	}))
	t.Cleanup(rec.Close)
	return rec
}

// take returns and forgets the calls so far.
func (r *logoutRecorder) take() []logoutCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// postLogout posts a logout token to the service as Keycloak would.
func postLogout(t *testing.T, svc *testenv.Service, token string) testenv.Response {
	t.Helper()
	resp, err := http.PostForm(svc.URL+"/v1/backchannel-logout", url.Values{"logout_token": {token}})
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return testenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func assertRefused(t *testing.T, resp testenv.Response, reason string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, resp.Status, string(resp.Body))
	body := resp.JSON(t)
	assert.Equal(t, "invalid_request", body["code"])
	if reason != "" {
		assert.Equal(t, reason, body["reason"])
	}
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
}

// selfSigned is a logout token with the right claims, signed by a key of our own under
// kid.
func selfSigned(t *testing.T, realm *testenv.TestRealm, kid, sub, sid string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	require.NoError(t, err)
	now := time.Now()
	raw, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": testenv.KeycloakBase(t) + "/realms/" + realm.Name, "aud": testenv.ServiceClient,
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": "forged-" + kid, "sub": sub, "sid": sid,
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}).Serialize()
	require.NoError(t, err)
	return raw
}

func realmKeyID(t *testing.T, realm *testenv.TestRealm) string {
	t.Helper()
	resp, err := http.Get(testenv.KeycloakBase(t) + "/realms/" + realm.Name + "/protocol/openid-connect/certs")
	require.NoError(t, err)
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
	for _, k := range set.Keys {
		if k.Algorithm == "RS256" {
			return k.KeyID
		}
	}
	t.Fatal("no RS256 key in the realm's JWKS")
	return ""
}

func TestBackchannelLogout(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	svc := testenv.StartConsentService(t, realm.ServiceConfig(t))
	rec := newLogoutRecorder(t, svc.URL)
	realm.Create(testenv.RealmOptions{BackchannelURL: rec.URL + "/v1/backchannel-logout",
		OtherClient: true, OtherBackchannelURL: rec.URL + "/v1/backchannel-logout"})
	service := serviceToken(t, realm)

	browser := testenv.NewBrowser(t)
	alice := realm.BrowserLogin(t, browser, testenv.Alice, testenv.ServiceClient, testenv.ServiceClientSecret, "")
	aliceID, s1 := realm.UserID(t, testenv.Alice), sid(t, alice)
	refreshID := storeOwnRefresh(t, svc, alice)
	offlineID, offlineSID := offlineConsent(t, svc, browser, alice.AccessToken, testenv.User{})
	require.Equal(t, s1, offlineSID)
	s2 := sid(t, realm.Login(t, testenv.Alice, ""))
	bobRow := storeOwnRefresh(t, svc, realm.Login(t, testenv.Bob, ""))
	// An ID token Keycloak signed for this service, carrying a nonce.
	withNonce := realm.BrowserLogin(t, testenv.NewBrowser(t), testenv.Carol, testenv.ServiceClient, testenv.ServiceClientSecret, "n-0S6_WzA2Mj").IDToken
	require.Equal(t, "n-0S6_WzA2Mj", testenv.Claims(t, withNonce)["nonce"])
	rows := []string{refreshID, offlineID, bobRow}
	assertRows := func(t *testing.T, want ...bool) {
		t.Helper()
		for i, id := range rows {
			assert.Equal(t, want[i], rowExists(t, svc, id), "row %d", i)
		}
	}

	t.Run("forged logout tokens are refused and change nothing", func(t *testing.T) {
		kid := realmKeyID(t, realm)
		assertRefused(t, postLogout(t, svc, selfSigned(t, realm, kid, aliceID, s1)), "invalid_signature")
		assertRefused(t, postLogout(t, svc, selfSigned(t, realm, "unknown-kid", aliceID, s1)), "invalid_signature")
		assertRefused(t, postLogout(t, svc, withNonce), "wrong_type")
		assertRefused(t, postLogout(t, svc, alice.AccessToken), "wrong_type")
		assertRefused(t, postLogout(t, svc, "not-a-jwt"), "malformed")
		assertRefused(t, postLogout(t, svc, ""), "missing")
		resp := svc.Do(t, http.MethodPost, "/v1/backchannel-logout", "", map[string]any{"logout_token": alice.IDToken})
		assertRefused(t, resp, "malformed")
		assert.Empty(t, rec.take(), "Keycloak sent nothing yet")
		assertRows(t, true, true, true)
	})

	var replay string
	t.Run("an admin logout deletes the rows of the user's sessions at once", func(t *testing.T) {
		realm.LogoutUser(t, aliceID)
		calls := rec.take()
		require.NotEmpty(t, calls)
		for _, c := range calls {
			assert.Equal(t, http.StatusOK, c.status, "%v", c.body)
			assert.Contains(t, []string{s1, s2}, testenv.Claims(t, c.token)["sid"])
		}
		// Keycloak 26.5 ends all of the user's sessions but notifies only one of them;
		// the reconciliation that follows every notice finds the others gone.
		t.Logf("Keycloak sent %d logout token(s) for 2 online sessions", len(calls))
		replay = calls[0].token
		// The notified session's rows go with the notice; the other session's with the
		// reconciliation that follows it (0.5 s, again at 3 s): 5 s covers both on a busy machine.
		require.Eventually(t, func() bool { return !rowExists(t, svc, refreshID) }, 5*time.Second, 20*time.Millisecond)
		resp := accessToken(t, svc, service, refreshID, "")
		assert.Equal(t, http.StatusNotFound, resp.Status, string(resp.Body))
		// The offline session outlives the logout of the login it came from, and so does
		// its stored offline token, also after the last reconciliation.
		assert.Contains(t, realm.OfflineSessionIDs(t, aliceID), s1)
		require.Eventually(t, func() bool {
			return strings.Contains(svc.Logs.String(), `"subject":"`+aliceID+`","attempt":2`)
		}, 15*time.Second, 100*time.Millisecond)
		assertRows(t, false, true, true)
	})
	require.NotEmpty(t, replay)

	t.Run("a replayed logout token is refused", func(t *testing.T) {
		assertRefused(t, postLogout(t, svc, replay), "replayed")
		assertRows(t, false, true, true)
	})
	t.Run("a logout token for another client is refused", func(t *testing.T) {
		carol := realm.UserID(t, testenv.Carol)
		testenv.PasswordLogin(t, realm.Name, testenv.OtherClient, testenv.OtherClientSecret, testenv.Carol, "openid")
		realm.LogoutUser(t, carol)
		calls := rec.take()
		require.NotEmpty(t, calls)
		var reasons []any
		for _, c := range calls {
			if slices.Contains(audience(t, c.token), testenv.OtherClient) {
				assert.Equal(t, http.StatusBadRequest, c.status)
				reasons = append(reasons, c.body["reason"])
			}
		}
		assert.Equal(t, []any{"wrong_audience"}, reasons)
		assertRows(t, false, true, true)
	})
	t.Run("an ended offline session takes its offline tokens along", func(t *testing.T) {
		b := testenv.NewBrowser(t)
		bob := realm.BrowserLogin(t, b, testenv.Bob, testenv.ServiceClient, testenv.ServiceClientSecret, "")
		id, offSID := offlineConsent(t, svc, b, bob.AccessToken, testenv.User{})
		realm.DeleteSession(t, offSID, true)
		calls := rec.take()
		require.Len(t, calls, 1)
		assert.Equal(t, http.StatusOK, calls[0].status)
		require.Eventually(t, func() bool { return !rowExists(t, svc, id) }, 15*time.Second, 100*time.Millisecond)
		assert.True(t, rowExists(t, svc, bobRow), "bob's refresh token of another session stays")
	})
	t.Run("audit", func(t *testing.T) {
		logs := svc.Logs.String()
		assert.Contains(t, logs, `"event":"backchannel_logout"`)
		assert.Contains(t, logs, `"error_code":"invalid_request:replayed"`)
		for _, c := range []string{replay, alice.AccessToken, alice.RefreshToken, withNonce} {
			assert.NotContains(t, logs, c, "no token in the logs")
		}
	})
}

func audience(t *testing.T, token string) []string {
	t.Helper()
	switch aud := testenv.Claims(t, token)["aud"].(type) {
	case string:
		return []string{aud}
	case []any:
		var out []string
		for _, a := range aud {
			out = append(out, a.(string))
		}
		return out
	}
	return nil
}

func TestOfflineKeepAlive(t *testing.T) {
	t.Parallel()
	const idleTimeout = 15 * time.Second // the realm's offline session idle timeout
	realm := testenv.DefineRealm(t)
	kept := realm.ServiceConfig(t)
	kept.KeepAlive.Enabled, kept.KeepAlive.Interval, kept.KeepAlive.IdleThreshold = true, time.Second, 4*time.Second
	svcKept := testenv.StartConsentService(t, kept)
	left := realm.ServiceConfig(t)
	left.KeepAlive.Enabled = false
	svcLeft := testenv.StartConsentService(t, left)
	realm.Create(testenv.RealmOptions{OfflineIdleTimeout: idleTimeout})
	alice := realm.Login(t, testenv.Alice, "")
	aliceID := realm.UserID(t, testenv.Alice)

	keptID, keptSID := offlineConsent(t, svcKept, testenv.NewBrowser(t), alice.AccessToken, testenv.Alice)
	leftID, leftSID := offlineConsent(t, svcLeft, testenv.NewBrowser(t), alice.AccessToken, testenv.Alice)
	start := time.Now()
	_, keptToken := storedOffline(t, svcKept, keptID)

	time.Sleep(idleTimeout + 5*time.Second - time.Since(start))

	t.Run("the kept-alive row still mints access tokens", func(t *testing.T) {
		row, token := storedOffline(t, svcKept, keptID)
		assert.NotEqual(t, keptToken, token, "the job stored the successors Keycloak returned")
		require.NotNil(t, row.LastUsedAt)
		assert.WithinDuration(t, time.Now(), *row.LastUsedAt, 8*time.Second)
		assert.Contains(t, realm.OfflineSessionIDs(t, aliceID), keptSID)
		resp := accessToken(t, svcKept, alice.AccessToken, keptID, "")
		assert.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		assert.Contains(t, svcKept.Logs.String(), `"msg":"keep-alive pass"`)
		last := metricValue(t, scrape(t, svcKept), "auth_manager_keepalive_last_success_timestamp_seconds")
		assert.InDelta(t, float64(time.Now().Unix()), last, 8, "a pass completed within the last interval")
	})
	t.Run("the row left alone died with its offline session and is marked", func(t *testing.T) {
		assert.NotContains(t, realm.OfflineSessionIDs(t, aliceID), leftSID)
		resp := accessToken(t, svcLeft, alice.AccessToken, leftID, "")
		require.Equal(t, http.StatusBadGateway, resp.Status, string(resp.Body))
		assert.Equal(t, "invalid_grant", resp.JSON(t)["reason"])
		row, err := svcLeft.App.Store.Get(context.Background(), leftID)
		require.NoError(t, err)
		assert.Equal(t, store.StatusInvalid, row.Status)
		t.Logf("Keycloak's refusal: %s", row.LastError)
	})
	t.Run("marked rows past the retention period are deleted; a dry run only reports", func(t *testing.T) {
		opt := keepalive.Options{IdleThreshold: time.Hour, Retention: time.Millisecond, Log: testenv.DiscardLogger()}
		dry := opt
		dry.DryRun = true
		rep, err := keepalive.New(svcLeft.App.Store, svcLeft.App.Vault, svcLeft.App.Tokens, dry).RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, keepalive.Report{Ran: true, DryRun: true, Expired: 1}, withoutDuration(rep))
		assert.True(t, rowExists(t, svcLeft, leftID))
		rep, err = keepalive.New(svcLeft.App.Store, svcLeft.App.Vault, svcLeft.App.Tokens, opt).RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Deleted)
		assert.False(t, rowExists(t, svcLeft, leftID))
		assert.True(t, rowExists(t, svcKept, keptID))
	})
}

func withoutDuration(r keepalive.Report) keepalive.Report {
	r.Duration = 0
	return r
}

// blockingRefresher holds every refresh until released, telling when one starts.
type blockingRefresher struct {
	next    keepalive.Refresher
	started chan string
	release chan struct{}
}

func (b *blockingRefresher) RefreshStored(ctx context.Context, id string) error {
	b.started <- id
	<-b.release
	return b.next.RefreshStored(ctx, id)
}

func TestKeepAliveOneReplicaAtATime(t *testing.T) {
	t.Parallel()
	realm := testenv.DefineRealm(t)
	cfg := realm.ServiceConfig(t)
	cfg.KeepAlive.Enabled = false // the jobs below are the only ones
	svc := testenv.StartConsentService(t, cfg)
	realm.Create(testenv.RealmOptions{})
	alice := realm.Login(t, testenv.Alice, "")
	id, _ := offlineConsent(t, svc, testenv.NewBrowser(t), alice.AccessToken, testenv.Alice)
	before, _ := storedOffline(t, svc, id)

	blocked := &blockingRefresher{next: svc.App.Tokens, started: make(chan string, 1), release: make(chan struct{})}
	opt := keepalive.Options{Interval: time.Hour, IdleThreshold: time.Nanosecond, Log: testenv.DiscardLogger()}
	first := keepalive.New(svc.App.Store, svc.App.Vault, blocked, opt)
	second := keepalive.New(svc.App.Store, svc.App.Vault, svc.App.Tokens, opt)

	done := make(chan keepalive.Report, 1)
	go func() {
		rep, err := first.RunOnce(context.Background())
		assert.NoError(t, err)
		done <- rep
	}()
	require.Equal(t, id, <-blocked.started, "the first job is refreshing the idle row")
	rep, err := second.RunOnce(context.Background())
	require.NoError(t, err)
	assert.False(t, rep.Ran, "the second job found the lock taken")
	assert.Zero(t, rep.Refreshed)
	close(blocked.release)
	rep = <-done
	assert.True(t, rep.Ran)
	assert.Equal(t, 1, rep.Refreshed)
	after, _ := storedOffline(t, svc, id)
	assert.NotEqual(t, before.EncryptedToken, after.EncryptedToken, "one refresh, its successor stored")

	t.Run("the lock is free again", func(t *testing.T) {
		rep, err := second.RunOnce(context.Background())
		require.NoError(t, err)
		assert.True(t, rep.Ran)
		assert.Equal(t, 1, rep.Refreshed)
	})
	t.Run("a stopped job finishes the refresh in flight and returns", func(t *testing.T) {
		blocked := &blockingRefresher{next: svc.App.Tokens, started: make(chan string, 1), release: make(chan struct{})}
		job := keepalive.New(svc.App.Store, svc.App.Vault, blocked, opt)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { job.Run(ctx); close(stopped) }()
		<-blocked.started
		cancel()
		select {
		case <-stopped:
			t.Fatal("Run returned with a refresh in flight")
		case <-time.After(200 * time.Millisecond):
		}
		close(blocked.release)
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its refresh ended")
		}
		row, _ := storedOffline(t, svc, id)
		assert.Equal(t, store.StatusActive, row.Status)
		resp := accessToken(t, svc, alice.AccessToken, id, "")
		assert.Equal(t, http.StatusOK, resp.Status, "the refresh in flight was stored: %s", resp.Body)
	})
}
