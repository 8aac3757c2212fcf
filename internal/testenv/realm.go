package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/config"
)

// OtherClient is a second confidential client of a test realm (RealmOptions.OtherClient):
// tokens and logout tokens addressed to it are not the service's.
const (
	OtherClient       = "auth-manager-other"
	OtherClientSecret = "other-secret"
)

// realmPrefix names the realms tests create; the time of creation follows it, so that
// realms a crashed test left behind can be recognised and removed.
const realmPrefix = "amt-"

// RealmOptions adjust a test realm.
type RealmOptions struct {
	// BackchannelURL is the back-channel logout URL of the service's client ("" none).
	BackchannelURL string
	// NoViewRealm takes the view-realm role from the service's service account.
	NoViewRealm bool
	// OfflineIdleTimeout is the realm's offline session idle timeout (0 keeps the dev
	// realm's 30 days).
	OfflineIdleTimeout time.Duration
	// OtherClient adds OtherClient, with its back-channel logout URL set to
	// OtherBackchannelURL when that is not "".
	OtherClient         bool
	OtherBackchannelURL string
	// FrontendURL, when set, is the realm's public name (its frontendUrl attribute):
	// tokens carry FrontendURL/realms/NAME as iss and discovery lists its endpoints
	// there, whatever address Keycloak was asked at.
	FrontendURL string
	// Rotation turns on refresh-token rotation ("Revoke Refresh Token") with max reuse
	// RefreshTokenMaxReuse (0, the default, is the crash-unsafe setting).
	Rotation             bool
	RefreshTokenMaxReuse int
	// NoServiceAccountRoles leaves the service's service account without its
	// realm-management roles.
	NoServiceAccountRoles bool
	// AccessTokenLifespan is the realm's access-token lifespan (0 keeps the dev realm's
	// 5 minutes).
	AccessTokenLifespan time.Duration
	// OfflineMaxLifespan, when set, turns on the realm's offline session max lifespan.
	OfflineMaxLifespan time.Duration
}

// TestRealm is a Keycloak realm of the test's own, a copy of the dev realm
// (deploy/keycloak/auth-manager.json: same clients, secrets and users) under a fresh
// name. Tests that change realm settings, count a user's sessions or log users out use
// one, so that tests running at the same time (in other packages, or other checkouts)
// never see each other's sessions. It is deleted when the test ends.
type TestRealm struct {
	Name string
	t    testing.TB
}

// DefineRealm picks a fresh realm name; Create makes the realm. The two steps let a
// test start the service (whose URL the realm needs) before the realm exists:
// discovery is lazy.
func DefineRealm(t testing.TB) *TestRealm {
	t.Helper()
	Integration(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &TestRealm{t: t, Name: realmPrefix + strconv.FormatInt(time.Now().Unix(), 10) + "-" + hex.EncodeToString(b[:])}
}

// ServiceConfig is the stack's configuration on a fresh database, for this realm.
func (r *TestRealm) ServiceConfig(t testing.TB) config.Config {
	t.Helper()
	cfg := NewServiceConfig(t)
	cfg.Keycloak.Realm = r.Name
	return cfg
}

// Create imports the realm through the admin API (as the master realm's admin) and
// deletes it when the test ends.
func (r *TestRealm) Create(opt RealmOptions) {
	t := r.t
	t.Helper()
	removeStaleRealms(t)
	raw, err := os.ReadFile(filepath.Join(RepoRoot(), "deploy", "keycloak", "auth-manager.json"))
	Must(t, err, "read the dev realm file")
	// The default-roles composite is named after the realm.
	raw = bytes.ReplaceAll(raw, []byte(`"default-roles-auth-manager"`), []byte(`"default-roles-`+r.Name+`"`))
	var rep map[string]any
	Must(t, json.Unmarshal(raw, &rep), "parse the dev realm file")
	rep["realm"], rep["displayName"] = r.Name, "auth-manager test "+r.Name
	if opt.NoViewRealm {
		for _, u := range rep["users"].([]any) {
			user := u.(map[string]any)
			if user["serviceAccountClientId"] != ServiceClient {
				continue
			}
			roles := user["clientRoles"].(map[string]any)
			var kept []any
			for _, r := range roles["realm-management"].([]any) {
				if r != "view-realm" {
					kept = append(kept, r)
				}
			}
			roles["realm-management"] = kept
		}
	}
	if opt.OfflineIdleTimeout > 0 {
		rep["offlineSessionIdleTimeout"] = int(opt.OfflineIdleTimeout / time.Second)
	}
	if opt.OfflineMaxLifespan > 0 {
		rep["offlineSessionMaxLifespanEnabled"], rep["offlineSessionMaxLifespan"] = true, int(opt.OfflineMaxLifespan/time.Second)
	}
	if opt.AccessTokenLifespan > 0 {
		rep["accessTokenLifespan"] = int(opt.AccessTokenLifespan / time.Second)
	}
	if opt.Rotation {
		rep["revokeRefreshToken"], rep["refreshTokenMaxReuse"] = true, opt.RefreshTokenMaxReuse
	}
	if opt.NoServiceAccountRoles {
		users, _ := rep["users"].([]any)
		for _, u := range users {
			if m := u.(map[string]any); m["serviceAccountClientId"] == ServiceClient {
				delete(m, "clientRoles")
			}
		}
	}
	if opt.FrontendURL != "" {
		attrs, _ := rep["attributes"].(map[string]any)
		if attrs == nil {
			attrs = map[string]any{}
		}
		attrs["frontendUrl"] = opt.FrontendURL
		rep["attributes"] = attrs
	}
	clients, _ := rep["clients"].([]any)
	for _, c := range clients {
		cl := c.(map[string]any)
		if cl["clientId"] != ServiceClient {
			continue
		}
		attrs := cl["attributes"].(map[string]any)
		attrs["backchannel.logout.url"] = opt.BackchannelURL
		if opt.OtherClient {
			other := map[string]any{}
			for k, v := range cl {
				other[k] = v
			}
			otherAttrs := map[string]any{}
			for k, v := range attrs {
				otherAttrs[k] = v
			}
			otherAttrs["backchannel.logout.url"] = opt.OtherBackchannelURL
			other["clientId"], other["name"], other["secret"], other["attributes"] = OtherClient, "another client", OtherClientSecret, otherAttrs
			other["serviceAccountsEnabled"] = false
			clients = append(clients, other)
		}
		break
	}
	rep["clients"] = clients
	if st, msg := masterAdmin(t, http.MethodPost, "/admin/realms", rep, nil); st != http.StatusCreated {
		t.Fatalf("testenv: create realm %s: %d %s", r.Name, st, msg)
	}
	t.Cleanup(func() {
		if st, msg := masterAdmin(t, http.MethodDelete, "/admin/realms/"+r.Name, nil, nil); st != http.StatusNoContent {
			t.Logf("testenv: delete realm %s: %d %s", r.Name, st, msg)
		}
	})
}

// removeStaleRealms deletes test realms older than an hour (left by crashed runs).
func removeStaleRealms(t testing.TB) {
	t.Helper()
	var realms []struct {
		Realm string `json:"realm"`
	}
	if st, msg := masterAdmin(t, http.MethodGet, "/admin/realms?briefRepresentation=true", nil, &realms); st != http.StatusOK {
		t.Fatalf("testenv: list realms: %d %s", st, msg)
	}
	for _, rl := range realms {
		rest, ok := strings.CutPrefix(rl.Realm, realmPrefix)
		if !ok {
			continue
		}
		stamp, _, _ := strings.Cut(rest, "-")
		if sec, err := strconv.ParseInt(stamp, 10, 64); err == nil && time.Since(time.Unix(sec, 0)) > time.Hour {
			masterAdmin(t, http.MethodDelete, "/admin/realms/"+rl.Realm, nil, nil)
		}
	}
}

// masterAdmin calls Keycloak's admin API as the master realm's admin
// (KEYCLOAK_ADMIN_USER / KEYCLOAK_ADMIN_PASSWORD, default the stack's admin/admin),
// sending in as JSON unless it is nil, and returns the status and, on failure, the body.
func masterAdmin(t testing.TB, method, path string, in, out any) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := keycloak(t).MasterAdmin(Env("KEYCLOAK_ADMIN_USER", "admin"), Env("KEYCLOAK_ADMIN_PASSWORD", "admin"))
	ans, err := admin.Do(ctx, method, path, in, out)
	Must(t, err, "admin "+method+" "+path)
	if ans.Status/100 == 2 {
		return ans.Status, ""
	}
	return ans.Status, string(ans.Body)
}

// Login logs u in on the service's client with the password grant: a new online
// session (or, with scope "openid offline_access", a new offline session).
func (r *TestRealm) Login(t testing.TB, u User, scope string) Tokens {
	t.Helper()
	return PasswordLogin(t, r.Name, ServiceClient, ServiceClientSecret, u, scope)
}

// BrowserLogin signs u in to client in browser b with the authorization code flow,
// sending nonce when it is not "" (the ID token then carries it).
func (r *TestRealm) BrowserLogin(t testing.TB, b *Browser, u User, client, secret, nonce string) Tokens {
	t.Helper()
	redirect := "http://127.0.0.1:9/after-login" // never followed
	q := url.Values{"client_id": {client}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {redirect}, "state": {"login"}}
	if nonce != "" {
		q.Set("nonce", nonce)
	}
	loc := b.Authorize(KeycloakBase(t)+"/realms/"+r.Name+"/protocol/openid-connect/auth?"+q.Encode(), u)
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("testenv: login redirect carries no code (error %q)", loc.Query().Get("error"))
	}
	return tokenRequest(t, r.Name, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirect}, "client_id": {client}, "client_secret": {secret}})
}

// Session is a user session as the admin API lists it.
type Session struct {
	ID      string            `json:"id"`
	Clients map[string]string `json:"clients"`
}

// UserID is the id of user u in the realm.
func (r *TestRealm) UserID(t testing.TB, u User) string {
	t.Helper()
	var users []struct {
		ID string `json:"id"`
	}
	if st, msg := masterAdmin(t, http.MethodGet, "/admin/realms/"+r.Name+"/users?exact=true&username="+url.QueryEscape(u.Name), nil, &users); st != http.StatusOK || len(users) != 1 {
		t.Fatalf("testenv: user %s: %d %s", u.Name, st, msg)
	}
	return users[0].ID
}

// OnlineSessionIDs lists the ids of the user's online sessions.
func (r *TestRealm) OnlineSessionIDs(t testing.TB, userID string) []string {
	t.Helper()
	return r.sessionIDs(t, "/users/"+userID+"/sessions")
}

// OfflineSessionIDs lists the ids of the user's offline sessions of the service's client.
func (r *TestRealm) OfflineSessionIDs(t testing.TB, userID string) []string {
	t.Helper()
	var clients []struct {
		ID string `json:"id"`
	}
	if st, msg := masterAdmin(t, http.MethodGet, "/admin/realms/"+r.Name+"/clients?clientId="+ServiceClient, nil, &clients); st != http.StatusOK || len(clients) != 1 {
		t.Fatalf("testenv: client lookup: %d %s", st, msg)
	}
	return r.sessionIDs(t, "/users/"+userID+"/offline-sessions/"+clients[0].ID)
}

func (r *TestRealm) sessionIDs(t testing.TB, path string) []string {
	t.Helper()
	var sessions []Session
	if st, msg := masterAdmin(t, http.MethodGet, "/admin/realms/"+r.Name+path, nil, &sessions); st != http.StatusOK {
		t.Fatalf("testenv: %s: %d %s", path, st, msg)
	}
	ids := make([]string, 0, len(sessions))
	for _, s := range sessions {
		ids = append(ids, s.ID)
	}
	return ids
}

// LogoutUser ends every online session of the user ("sign out" in the admin console):
// Keycloak sends a back-channel logout for each.
func (r *TestRealm) LogoutUser(t testing.TB, userID string) {
	t.Helper()
	if st, msg := masterAdmin(t, http.MethodPost, "/admin/realms/"+r.Name+"/users/"+userID+"/logout", nil, nil); st != http.StatusNoContent {
		t.Fatalf("testenv: logout user: %d %s", st, msg)
	}
}

// DeleteSession ends session sid (the offline one when offline is true) as an admin.
func (r *TestRealm) DeleteSession(t testing.TB, sid string, offline bool) {
	t.Helper()
	path := fmt.Sprintf("/admin/realms/%s/sessions/%s?isOffline=%t", r.Name, url.PathEscape(sid), offline)
	if st, msg := masterAdmin(t, http.MethodDelete, path, nil, nil); st != http.StatusNoContent {
		t.Fatalf("testenv: delete session: %d %s", st, msg)
	}
}

// SetFrontendURL changes the realm's public name ("" drops it: tokens then carry the
// address Keycloak's hostname option names).
func (r *TestRealm) SetFrontendURL(t testing.TB, u string) {
	t.Helper()
	body := map[string]any{"attributes": map[string]any{"frontendUrl": u}}
	if st, msg := masterAdmin(t, http.MethodPut, "/admin/realms/"+r.Name, body, nil); st != http.StatusNoContent {
		t.Fatalf("testenv: set frontendUrl: %d %s", st, msg)
	}
}
