package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/auth-manager/auth-manager/internal/config"
	"github.com/auth-manager/auth-manager/internal/keycloak"
)

func checkKeycloak(ctx context.Context, d Deps) Result {
	where := d.Config.Keycloak.ConnectURL()
	if _, err := d.Keycloak.Discovery(ctx); err != nil {
		return fail(CheckKeycloak, "no discovery document at "+where+": "+describe(err),
			"check KEYCLOAK_URL (or KEYCLOAK_ISSUER when KEYCLOAK_URL is unset) and KEYCLOAK_REALM: the service must reach Keycloak at that address")
	}
	return pass(CheckKeycloak, "reachable at "+where)
}

func checkIssuer(ctx context.Context, d Deps) Result {
	want := d.Config.Keycloak.IssuerURL()
	got, err := d.Keycloak.Discovery(ctx)
	if err != nil {
		return fail(CheckIssuer, "discovery failed: "+describe(err), "see the keycloak check")
	}
	if got == want {
		return pass(CheckIssuer, "discovery names the issuer "+want)
	}
	fix := "set KEYCLOAK_ISSUER to the issuer tokens carry (" + strings.TrimSuffix(got, "/realms/"+d.Config.Keycloak.Realm) +
		") or Keycloak's hostname to " + strings.TrimSuffix(want, "/realms/"+d.Config.Keycloak.Realm)
	if d.Config.Keycloak.URL == "" {
		fix += "; when the service reaches Keycloak at an internal address, keep KEYCLOAK_ISSUER public and set KEYCLOAK_URL to that address"
	}
	return fail(CheckIssuer, fmt.Sprintf("discovery at %s names the issuer %s, but KEYCLOAK_ISSUER gives %s: tokens will be refused",
		d.Config.Keycloak.ConnectURL(), got, want), fix)
}

// checkClient runs the client-credentials grant and returns the service account's
// realm-management roles.
func checkClient(ctx context.Context, d Deps) ([]string, Result) {
	roles, err := d.Admin.ServiceAccountRoles(ctx)
	var ke *keycloak.Error
	switch {
	case errors.As(err, &ke) && (ke.Code == "invalid_client" || ke.Code == "unauthorized_client"):
		return nil, fail(CheckClient, fmt.Sprintf("Keycloak refused the client credentials of %s (%s: %s)", d.Config.Keycloak.ClientID, ke.Code, ke.Description),
			"check KEYCLOAK_CLIENT_ID and KEYCLOAK_CLIENT_SECRET (Clients → "+d.Config.Keycloak.ClientID+" → Credentials) and that the client is confidential with Service accounts enabled")
	case err != nil:
		return nil, fail(CheckClient, "client-credentials grant failed: "+describe(err),
			"check KEYCLOAK_CLIENT_ID, KEYCLOAK_CLIENT_SECRET and that Service accounts are enabled for the client")
	}
	return roles, pass(CheckClient, "client-credentials grant works for "+d.Config.Keycloak.ClientID)
}

// sessionRoles are the realm-management roles the sessions API needs; one of
// clientRoles is needed to find the client's id; view-realm lets doctor read the realm.
var (
	sessionRoles = []string{"view-users", "manage-users"}
	clientRoles  = []string{"query-clients", "view-clients"}
)

func checkRoles(roles []string) Result {
	var missing []string
	for _, r := range sessionRoles {
		if !slices.Contains(roles, r) {
			missing = append(missing, r)
		}
	}
	if !slices.ContainsFunc(clientRoles, func(r string) bool { return slices.Contains(roles, r) }) {
		missing = append(missing, "view-clients")
	}
	if len(missing) > 0 {
		return fail(CheckRoles, "the service account lacks "+strings.Join(missing, ", ")+
			": listing and ending sessions (GET/DELETE /v1/sessions, offline revocation) will fail with 502",
			"assign the realm-management roles view-users, manage-users, view-clients (and view-realm for doctor) to the client's service account (Clients → client → Service accounts roles)")
	}
	return pass(CheckRoles, "the service account has "+strings.Join(sessionRoles, ", ")+" and client lookup")
}

const logoutPath = "/v1/backchannel-logout"

func checkLogoutURL(ctx context.Context, d Deps) Result {
	client := d.Config.Keycloak.ClientID
	attrs, err := d.Admin.ClientAttributes(ctx)
	if err != nil {
		return fail(CheckLogoutURL, "cannot read client "+client+": "+describe(err),
			"assign view-clients to the service account so the client's settings can be read")
	}
	where := "(Clients → " + client + " → Logout settings)"
	raw := attrs["backchannel.logout.url"]
	if raw == "" {
		return fail(CheckLogoutURL, "the realm sends no back-channel logout for "+client+": a user's logout leaves their stored tokens in the vault",
			"set Backchannel logout URL to this service's "+logoutPath+" as Keycloak reaches it "+where)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Path != logoutPath {
		return fail(CheckLogoutURL, "the back-channel logout URL "+raw+" is not this service's "+logoutPath,
			"set Backchannel logout URL to http(s)://<this service>"+logoutPath+" "+where)
	}
	if attrs["backchannel.logout.session.required"] != "true" {
		return fail(CheckLogoutURL, "the logout token will carry no session id (sid): the service cannot tell which session ended",
			"turn on Backchannel logout session required "+where)
	}
	switch answer := probeLogout(ctx, d.HTTP, raw); answer {
	case "":
		return pass(CheckLogoutURL, raw+" answers as auth-manager")
	case "unreachable":
		return pass(CheckLogoutURL, raw+" is set (not reachable from here; Keycloak must reach it)")
	default:
		return fail(CheckLogoutURL, raw+" "+answer+": not an auth-manager",
			"point Backchannel logout URL at this service "+where)
	}
}

// probeLogout posts an empty logout request to u: auth-manager answers 400 with its
// error envelope, reason "missing" (no logout token), and changes nothing: it audits
// nothing and counts it against no failure limit, and answers it from an address over
// the limit too. It returns "" for that, "unreachable", or what answered instead.
func probeLogout(ctx context.Context, c *http.Client, u string) string {
	if c == nil {
		c = &http.Client{Timeout: 3 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(""))
	if err != nil {
		return "is not a URL"
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return "unreachable"
	}
	defer resp.Body.Close()
	var env struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&env)
	if resp.StatusCode == http.StatusBadRequest && env.Code != "" && env.Reason == "missing" {
		return ""
	}
	return fmt.Sprintf("answers %d", resp.StatusCode)
}

// checkOfflineIdle reads the realm's settings (also for the rotation check) and
// compares the offline idle timeout with the keep-alive's worst gap.
func checkOfflineIdle(ctx context.Context, d Deps) (*keycloak.RealmSettings, Result) {
	s, err := d.Admin.RealmSettings(ctx)
	if err != nil {
		return nil, fail(CheckOfflineIdle, "cannot read the realm's settings: "+describe(err),
			"assign realm-management view-realm to the service account (doctor reads the realm's session and token settings with it)")
	}
	return &s, judgeOfflineIdle(d.Config.KeepAlive, s)
}

// judgeOfflineIdle compares the realm's offline idle timeout with the keep-alive's
// worst gap between two refreshes of an idle offline token.
func judgeOfflineIdle(ka config.KeepAlive, s keycloak.RealmSettings) Result {
	idle := time.Duration(s.OfflineSessionIdleTimeout) * time.Second
	if !ka.Enabled {
		return pass(CheckOfflineIdle, fmt.Sprintf("keep-alive off: an offline token unused for %s expires (realm offline idle timeout)", idle))
	}
	// A row last used just after a pass looked is refreshed by the first pass after it
	// has been idle for IdleThreshold: up to one Interval later.
	worst := ka.IdleThreshold + ka.Interval
	if worst >= idle {
		return fail(CheckOfflineIdle, fmt.Sprintf("an offline token can go %s (keep-alive idle threshold %s + interval %s) without a refresh, but the realm ends offline sessions idle for %s",
			worst, ka.IdleThreshold, ka.Interval, idle),
			fmt.Sprintf("lower AUTH_MANAGER_KEEPALIVE_IDLE_THRESHOLD so that threshold + interval stays well under %s, or raise Offline Session Idle (Realm settings → Sessions)", idle))
	}
	return pass(CheckOfflineIdle, fmt.Sprintf("keep-alive refreshes an idle offline token within %s, under the realm's %s", worst, idle))
}

func checkRotation(s keycloak.RealmSettings) Result {
	switch {
	case !s.RevokeRefreshToken:
		return pass(CheckRotation, "refresh-token rotation off: a stored token stays valid until its session ends")
	case s.RefreshTokenMaxReuse == 0:
		return fail(CheckRotation, "rotation on with max reuse 0: a process that dies between Keycloak's answer and its database commit leaves a consumed token in the vault, and presenting it again ends the user's session",
			"set Refresh token max reuse to 1 (Realm settings → Tokens), so the token can be presented once more after a crash")
	}
	return pass(CheckRotation, fmt.Sprintf("rotation on with max reuse %d: a refresh interrupted by a crash can be repeated", s.RefreshTokenMaxReuse))
}
