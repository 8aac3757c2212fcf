package testenv

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/auth-manager/auth-manager/internal/app"
	"github.com/auth-manager/auth-manager/internal/config"
)

// CallbackPath is the service's offline-consent callback.
const CallbackPath = "/v1/offline-token/callback"

// StartConsentService starts the service like StartService, but on a listener opened
// first, so that cfg's consent redirect URI can name the service itself: Keycloak's
// login then redirects to the service under test. The realm accepts any
// http://127.0.0.1:<port> redirect.
func StartConsentService(t testing.TB, cfg config.Config, opts ...app.Option) *Service {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(t, err, "listen")
	base := "http://" + ln.Addr().String()
	cfg.Keycloak.ConsentRedirectURI = base + CallbackPath
	logs := &LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.New(ctx, cfg, log, opts...)
	if err != nil {
		ln.Close()
		t.Fatalf("testenv: start service: %v", err)
	}
	srv := httptest.NewUnstartedServer(a.Handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &Service{URL: base, App: a, Logs: logs}
}

// Browser does what a user's browser does at Keycloak's login page: it keeps cookies
// (so a second authorization in the same browser reuses the Keycloak session) and
// stops at the redirect back to the client, which it returns instead of following.
type Browser struct {
	t      testing.TB
	client *http.Client
}

// NewBrowser returns a browser with an empty cookie jar.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	Must(t, err, "cookie jar")
	return &Browser{t: t, client: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Resolve makes the browser reach hostport (a name that does not resolve on this
// machine, such as a realm's public frontendUrl) at addr, as an /etc/hosts entry would.
func (b *Browser) Resolve(hostport, addr string) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dial := (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		if a == hostport {
			a = addr
		}
		return dial(ctx, network, a)
	}
	b.client.Transport = tr
}

var loginForm = regexp.MustCompile(`(?s)<form[^>]*\bid="kc-form-login"[^>]*>`)
var formAction = regexp.MustCompile(`\baction="([^"]*)"`)

// Authorize opens authURL. When Keycloak shows its login form, it logs in as u
// (username, password, empty credentialId); when the browser's Keycloak session is
// still alive, Keycloak redirects at once. Either way it returns the redirect's
// Location: the client's redirect URI with code, state, session_state and iss.
func (b *Browser) Authorize(authURL string, u User) *url.URL {
	b.t.Helper()
	resp := b.do(http.MethodGet, authURL, nil)
	if resp.StatusCode == http.StatusFound {
		return b.location(resp)
	}
	page := readPage(b.t, resp)
	tag := loginForm.FindString(page)
	if tag == "" {
		b.t.Fatalf("testenv: Keycloak answered %d without its login form", resp.StatusCode)
	}
	m := formAction.FindStringSubmatch(tag)
	if m == nil {
		b.t.Fatalf("testenv: Keycloak's login form has no action")
	}
	form := url.Values{"username": {u.Name}, "password": {u.Password}, "credentialId": {""}}
	resp = b.do(http.MethodPost, html.UnescapeString(m[1]), form)
	if resp.StatusCode != http.StatusFound {
		readPage(b.t, resp)
		b.t.Fatalf("testenv: login of %s answered %d, not a redirect", u.Name, resp.StatusCode)
	}
	return b.location(resp)
}

// Login signs u in to the service's client in this browser with the authorization code
// flow (a Keycloak session with a cookie, as a web front end has) and returns the
// tokens. A later Authorize in this browser reuses that session.
func (b *Browser) Login(u User) Tokens {
	b.t.Helper()
	return b.LoginClient(ServiceClient, ServiceClientSecret, "http://127.0.0.1:9/after-login", u)
}

// AccountConsole is the realm's built-in public client (with PKCE): a stand-in for a
// web front end other than this service, in tests of what a session keeps.
const AccountConsole = "account-console"

// LoginClient signs u in to client (secret "" for a public client) with the
// authorization code flow and PKCE, redirecting to redirect (never followed).
func (b *Browser) LoginClient(client, secret, redirect string, u User) Tokens {
	b.t.Helper()
	verifier := oauth2.GenerateVerifier()
	auth := KeycloakBase(b.t) + "/realms/" + Realm + "/protocol/openid-connect/auth?" + url.Values{
		"client_id": {client}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {redirect},
		"state": {"login"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"}}.Encode()
	loc := b.Authorize(auth, u)
	code := loc.Query().Get("code")
	if code == "" {
		b.t.Fatalf("testenv: login redirect carries no code (error %q)", loc.Query().Get("error"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {client}, "code_verifier": {verifier}}
	if secret != "" {
		form.Set("client_secret", secret)
	}
	return tokenRequest(b.t, Realm, form)
}

// Get fetches a URL (the service's callback) without following redirects.
func (b *Browser) Get(u string) Response {
	b.t.Helper()
	resp := b.do(http.MethodGet, u, nil)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func (b *Browser) do(method, u string, form url.Values) *http.Response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	Must(b.t, err, "browser request")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	Must(b.t, err, "browser "+method)
	return resp
}

func (b *Browser) location(resp *http.Response) *url.URL {
	b.t.Helper()
	resp.Body.Close()
	loc, err := resp.Location()
	Must(b.t, err, "redirect location")
	return loc
}

func readPage(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	Must(t, err, "read page")
	return string(b)
}

// OfflineSessionIDs lists the ids of user's offline sessions of the service's client,
// as Keycloak's admin API reports them.
func OfflineSessionIDs(t testing.TB, userID string) []string {
	t.Helper()
	var clients []struct {
		ID string `json:"id"`
	}
	if st := adminCall(t, Realm, http.MethodGet, "/clients?clientId="+ServiceClient, &clients); st != http.StatusOK || len(clients) != 1 {
		t.Fatalf("testenv: client lookup answered %d", st)
	}
	var sessions []struct {
		ID string `json:"id"`
	}
	if st := adminCall(t, Realm, http.MethodGet, "/users/"+userID+"/offline-sessions/"+clients[0].ID, &sessions); st != http.StatusOK {
		t.Fatalf("testenv: offline sessions answered %d", st)
	}
	ids := make([]string, 0, len(sessions))
	for _, s := range sessions {
		ids = append(ids, s.ID)
	}
	return ids
}

// UserSessionIDs lists the ids of user's online sessions.
func UserSessionIDs(t testing.TB, userID string) []string {
	t.Helper()
	var sessions []struct {
		ID string `json:"id"`
	}
	if st := adminCall(t, Realm, http.MethodGet, "/users/"+userID+"/sessions", &sessions); st != http.StatusOK {
		t.Fatalf("testenv: sessions answered %d", st)
	}
	ids := make([]string, 0, len(sessions))
	for _, s := range sessions {
		ids = append(ids, s.ID)
	}
	return ids
}

// RefreshClientAtKeycloak presents a refresh token of client (secret "" for a public
// client) to the main realm's token endpoint and returns the status and the OAuth error.
func RefreshClientAtKeycloak(t testing.TB, client, secret, refreshToken string) (int, string) {
	t.Helper()
	return refreshAt(t, Realm, client, secret, refreshToken)
}
