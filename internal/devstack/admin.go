package devstack

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

// Admin calls Keycloak's admin REST API with an access token from one grant, kept
// until shortly before it expires.
type Admin struct {
	kc    *Keycloak
	realm string     // the realm the grant is made in
	form  url.Values // the grant

	mu    sync.Mutex
	token string
	exp   time.Time
}

// ServiceAccount acts as the service account of realm's confidential client: the admin
// API of that realm, with the roles the account holds (the dev realm gives the
// service's client manage-users and view-realm).
func (k *Keycloak) ServiceAccount(realm, client, secret string) *Admin {
	return &Admin{kc: k, realm: realm,
		form: url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}}}
}

// MasterAdmin acts as a user of the master realm through admin-cli: the admin API of
// every realm (the stack's is admin/admin).
func (k *Keycloak) MasterAdmin(user, password string) *Admin {
	return &Admin{kc: k, realm: "master",
		form: url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {user}, "password": {password}}}
}

func (a *Admin) accessToken(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && time.Until(a.exp) > 30*time.Second {
		return a.token, nil
	}
	ts, err := a.kc.Grant(ctx, a.realm, a.form)
	if err != nil {
		return "", err
	}
	a.token, a.exp = ts.AccessToken, time.Now().Add(time.Duration(ts.ExpiresIn)*time.Second)
	return a.token, nil
}

// Answer is an admin API answer.
type Answer struct {
	Status   int
	Location string // of a created resource
	Body     []byte // at most 4 MiB
}

// Do calls the admin API at p (from the server's root, e.g. /admin/realms/NAME/users),
// sending in as JSON when it is not nil (a []byte or json.RawMessage is sent as it is,
// anything else marshalled) and decoding a 200 answer into out when it is not nil. Any
// status is an Answer; only a transport or decoding failure is an error.
func (a *Admin) Do(ctx context.Context, method, p string, in, out any) (Answer, error) {
	tok, err := a.accessToken(ctx)
	if err != nil {
		return Answer{}, err
	}
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(v)
	case json.RawMessage:
		body = bytes.NewReader(v)
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return Answer{}, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.kc.Base+p, body)
	if err != nil {
		return Answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.kc.HTTP.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("keycloak admin %s: %w", method, err)
	}
	defer resp.Body.Close()
	ans := Answer{Status: resp.StatusCode, Location: resp.Header.Get("Location")}
	if ans.Body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20)); err != nil {
		return ans, fmt.Errorf("keycloak admin %s: %w", method, err)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(ans.Body, out); err != nil {
			return ans, fmt.Errorf("keycloak admin %s: decode: %w", method, err)
		}
	}
	return ans, nil
}

// RealmPath is the admin API path of rel (e.g. /users) in realm.
func RealmPath(realm, rel string) string { return "/admin/realms/" + url.PathEscape(realm) + rel }

// CreateUser creates an enabled user of realm with a password and a complete profile
// (Keycloak refuses the password grant to an account "not fully set up") and returns
// its id.
func (a *Admin) CreateUser(ctx context.Context, realm, name, password string) (string, error) {
	u := map[string]any{
		"username": name, "enabled": true, "email": name + "@devstack.invalid", "emailVerified": true,
		"firstName": "Dev", "lastName": "Stack",
		"credentials": []map[string]any{{"type": "password", "value": password, "temporary": false}},
	}
	ans, err := a.Do(ctx, http.MethodPost, RealmPath(realm, "/users"), u, nil)
	if err != nil {
		return "", err
	}
	if ans.Status != http.StatusCreated || ans.Location == "" {
		return "", fmt.Errorf("keycloak: create user %s answered %d", name, ans.Status)
	}
	return path.Base(ans.Location), nil
}

// DeleteUser deletes a user of realm (and with it its sessions); one already gone is
// not an error.
func (a *Admin) DeleteUser(ctx context.Context, realm, id string) error {
	ans, err := a.Do(ctx, http.MethodDelete, RealmPath(realm, "/users/"+url.PathEscape(id)), nil, nil)
	if err != nil {
		return err
	}
	if ans.Status != http.StatusNoContent && ans.Status != http.StatusNotFound {
		return fmt.Errorf("keycloak: delete user answered %d", ans.Status)
	}
	return nil
}

// User is a user as the admin API lists it.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Created  int64  `json:"createdTimestamp"` // unix milliseconds
}

// UsersWithPrefix lists up to max users of realm whose name starts with prefix.
func (a *Admin) UsersWithPrefix(ctx context.Context, realm, prefix string, max int) ([]User, error) {
	var all []User
	q := url.Values{"search": {prefix}, "briefRepresentation": {"true"}, "max": {fmt.Sprint(max)}}
	ans, err := a.Do(ctx, http.MethodGet, RealmPath(realm, "/users?"+q.Encode()), nil, &all)
	if err != nil {
		return nil, err
	}
	if ans.Status != http.StatusOK {
		return nil, fmt.Errorf("keycloak: list users answered %d", ans.Status)
	}
	out := all[:0]
	for _, u := range all {
		if strings.HasPrefix(u.Username, prefix) {
			out = append(out, u)
		}
	}
	return out, nil
}
