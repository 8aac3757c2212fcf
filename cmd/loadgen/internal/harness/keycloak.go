package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
)

// Keycloak is the driver's own small client of the stack's Keycloak: the token grants
// the fixtures need and the few admin calls that create and delete bench users, made
// as the service's client (its service account has manage-users).
type Keycloak struct {
	Base, Realm          string
	ClientID, Secret     string // the service's confidential client
	CallerID, CallerPass string // a client whose tokens carry the service role

	http *http.Client

	mu       sync.Mutex
	admin    string
	adminExp time.Time
}

// NewKeycloak returns a client; it makes no call.
func NewKeycloak(base, realm, clientID, secret, callerID, callerSecret string) *Keycloak {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	return &Keycloak{Base: strings.TrimSuffix(base, "/"), Realm: realm, ClientID: clientID, Secret: secret,
		CallerID: callerID, CallerPass: callerSecret, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// TokenEndpoint is the realm's token endpoint.
func (k *Keycloak) TokenEndpoint() string {
	return k.Base + "/realms/" + url.PathEscape(k.Realm) + "/protocol/openid-connect/token"
}

// TokenSet is a token endpoint answer.
type TokenSet struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

func (k *Keycloak) grant(ctx context.Context, form url.Values) (TokenSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.TokenEndpoint(), strings.NewReader(form.Encode()))
	if err != nil {
		return TokenSet{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := k.http.Do(req)
	if err != nil {
		return TokenSet{}, fmt.Errorf("keycloak %s grant: %w", form.Get("grant_type"), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return TokenSet{}, fmt.Errorf("keycloak %s grant: %d %s", form.Get("grant_type"), resp.StatusCode, oauthError(body))
	}
	var ts TokenSet
	if err := json.Unmarshal(body, &ts); err != nil || ts.AccessToken == "" {
		return TokenSet{}, fmt.Errorf("keycloak %s grant: unexpected answer", form.Get("grant_type"))
	}
	return ts, nil
}

// oauthError names an OAuth error answer without echoing anything else.
func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	return strings.TrimSpace(e.Error + ": " + e.Desc)
}

// Password logs a user in on the service's client (a new Keycloak session).
func (k *Keycloak) Password(ctx context.Context, user, password string) (TokenSet, error) {
	return k.grant(ctx, url.Values{"grant_type": {"password"}, "client_id": {k.ClientID}, "client_secret": {k.Secret},
		"username": {user}, "password": {password}, "scope": {"openid"}})
}

// Refresh presents a refresh token of the service's client (the baseline B call).
func (k *Keycloak) Refresh(ctx context.Context, refreshToken string) (TokenSet, error) {
	return k.grant(ctx, k.refreshForm(refreshToken))
}

func (k *Keycloak) refreshForm(refreshToken string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {k.ClientID}, "client_secret": {k.Secret},
		"refresh_token": {refreshToken}}
}

// ServiceCallerToken is a client-credentials token of the service-caller client.
func (k *Keycloak) ServiceCallerToken(ctx context.Context) (TokenSet, error) {
	return k.grant(ctx, url.Values{"grant_type": {"client_credentials"}, "client_id": {k.CallerID}, "client_secret": {k.CallerPass}})
}

func (k *Keycloak) adminToken(ctx context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.admin != "" && time.Until(k.adminExp) > 30*time.Second {
		return k.admin, nil
	}
	ts, err := k.grant(ctx, url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ClientID}, "client_secret": {k.Secret}})
	if err != nil {
		return "", err
	}
	k.admin, k.adminExp = ts.AccessToken, time.Now().Add(time.Duration(ts.ExpiresIn)*time.Second)
	return k.admin, nil
}

// adminCall calls the realm's admin API; it returns the status and Location header.
func (k *Keycloak) adminCall(ctx context.Context, method, rel string, in, out any) (int, string, error) {
	tok, err := k.adminToken(ctx)
	if err != nil {
		return 0, "", err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, "", err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.Base+"/admin/realms/"+url.PathEscape(k.Realm)+rel, body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("keycloak admin %s: %w", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, "", fmt.Errorf("keycloak admin %s: decode: %w", method, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// CreateUser creates an enabled user with a password and a complete profile (Keycloak
// refuses the password grant to an account "not fully set up") and returns its id.
func (k *Keycloak) CreateUser(ctx context.Context, name, password string) (string, error) {
	u := map[string]any{
		"username": name, "enabled": true, "email": name + "@bench.invalid", "emailVerified": true,
		"firstName": "Load", "lastName": "Generator",
		"credentials": []map[string]any{{"type": "password", "value": password, "temporary": false}},
	}
	st, loc, err := k.adminCall(ctx, http.MethodPost, "/users", u, nil)
	if err != nil {
		return "", err
	}
	if st != http.StatusCreated || loc == "" {
		return "", fmt.Errorf("keycloak: create user %s answered %d", name, st)
	}
	return path.Base(loc), nil
}

// DeleteUser deletes a user (and with it its sessions).
func (k *Keycloak) DeleteUser(ctx context.Context, id string) error {
	st, _, err := k.adminCall(ctx, http.MethodDelete, "/users/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return err
	}
	if st != http.StatusNoContent && st != http.StatusNotFound {
		return fmt.Errorf("keycloak: delete user answered %d", st)
	}
	return nil
}

// KCUser is a user as the admin API lists it.
type KCUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Created  int64  `json:"createdTimestamp"` // unix milliseconds
}

// UsersWithPrefix lists up to max users whose name starts with prefix.
func (k *Keycloak) UsersWithPrefix(ctx context.Context, prefix string, max int) ([]KCUser, error) {
	var all []KCUser
	q := url.Values{"search": {prefix}, "briefRepresentation": {"true"}, "max": {fmt.Sprint(max)}}
	st, _, err := k.adminCall(ctx, http.MethodGet, "/users?"+q.Encode(), nil, &all)
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("keycloak: list users answered %d", st)
	}
	out := all[:0]
	for _, u := range all {
		if strings.HasPrefix(u.Username, prefix) {
			out = append(out, u)
		}
	}
	return out, nil
}
