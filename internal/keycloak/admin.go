package keycloak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrNotFound is the admin API's 404: the user, session or client does not exist (any
// more). Ending a session that is already gone is therefore not a failure to callers
// that only want it gone.
var ErrNotFound = errors.New("keycloak: not found")

// adminTokenMargin is how long before its expiry a cached service-account token is
// replaced (at most a quarter of its life), so that no call sets out with a token that
// dies on the way.
const adminTokenMargin = 30 * time.Second

// Session is a user session as the admin API describes it (online or offline).
type Session struct {
	ID         string            `json:"id"`
	UserID     string            `json:"userId"`
	Username   string            `json:"username"`
	IPAddress  string            `json:"ipAddress"`
	Start      int64             `json:"start"`      // unix milliseconds
	LastAccess int64             `json:"lastAccess"` // unix milliseconds
	Clients    map[string]string `json:"clients"`    // client UUID → clientId
	RememberMe bool              `json:"rememberMe"`
}

// Admin calls the realm's admin REST API as the service's own service account
// (client_credentials of the confidential client; the realm must grant it the
// realm-management roles each call needs). Its token and the client's UUID are cached.
// Safe for concurrent use.
type Admin struct {
	kc *Client

	mu        sync.Mutex // guards the token; held while one is fetched, so callers share one fetch
	token     string
	refreshAt time.Time

	uuidMu     sync.Mutex
	clientUUID string
}

// NewAdmin returns the admin client for kc's realm and credentials. It makes no call.
func NewAdmin(kc *Client) *Admin { return &Admin{kc: kc} }

// DeleteSession ends Keycloak session sid: the offline session when offline is true
// (every offline token of it stops working), the online one otherwise. ErrNotFound
// means there is no such session. Needs manage-users.
func (a *Admin) DeleteSession(ctx context.Context, sid string, offline bool) error {
	if err := checkSessionID(sid); err != nil {
		return err
	}
	q := url.Values{"isOffline": {strconv.FormatBool(offline)}}
	return a.call(ctx, "admin_delete_session", http.MethodDelete, "/sessions/"+url.PathEscape(sid), q, nil)
}

// UserSessions lists userID's online sessions. Needs view-users.
func (a *Admin) UserSessions(ctx context.Context, userID string) ([]Session, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	var out []Session
	err := a.call(ctx, "admin_user_sessions", http.MethodGet, "/users/"+url.PathEscape(userID)+"/sessions", nil, &out)
	return out, err
}

// OfflineSessions lists userID's offline sessions that hold an offline token of the
// service's own client. Needs view-users (and view-clients for the client's UUID).
func (a *Admin) OfflineSessions(ctx context.Context, userID string) ([]Session, error) {
	if err := checkUserID(userID); err != nil {
		return nil, err
	}
	cid, err := a.ClientUUID(ctx)
	if err != nil {
		return nil, err
	}
	var out []Session
	err = a.call(ctx, "admin_offline_sessions", http.MethodGet,
		"/users/"+url.PathEscape(userID)+"/offline-sessions/"+url.PathEscape(cid), nil, &out)
	return out, err
}

// ClientUUID is the internal id of the service's client (the admin API names clients
// by it), looked up once by clientId. Needs query-clients or view-clients.
func (a *Admin) ClientUUID(ctx context.Context) (string, error) {
	a.uuidMu.Lock()
	defer a.uuidMu.Unlock()
	if a.clientUUID != "" {
		return a.clientUUID, nil
	}
	var found []struct {
		ID       string `json:"id"`
		ClientID string `json:"clientId"`
	}
	q := url.Values{"clientId": {a.kc.opt.ClientID}}
	if err := a.call(ctx, "admin_client_uuid", http.MethodGet, "/clients", q, &found); err != nil {
		return "", err
	}
	for _, c := range found {
		if c.ClientID == a.kc.opt.ClientID && c.ID != "" {
			a.clientUUID = c.ID
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("%w: client %s in realm %s", ErrNotFound, a.kc.opt.ClientID, a.kc.opt.Realm)
}

// call runs one admin API request. A 401 means the cached token went bad early
// (Keycloak restarted, keys rotated): it is dropped and the call made once more.
func (a *Admin) call(ctx context.Context, op, method, path string, q url.Values, out any) error {
	body, err := a.send(ctx, op, method, path, q)
	var ke *Error
	if errors.As(err, &ke) && ke.Status == http.StatusUnauthorized {
		a.forget()
		body, err = a.send(ctx, op, method, path, q)
	}
	if errors.As(err, &ke) && ke.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %s", ErrNotFound, op)
	}
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &Error{Op: op, Status: http.StatusOK, Code: "malformed_response", Description: "admin answer is not the expected JSON"}
	}
	return nil
}

func (a *Admin) send(ctx context.Context, op, method, path string, q url.Values) ([]byte, error) {
	token, err := a.serviceToken(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.kc.opt.Timeout)
	defer cancel()
	u := a.kc.opt.BaseURL + "/admin/realms/" + url.PathEscape(a.kc.opt.Realm) + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("keycloak: %s: build request: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return a.kc.do(req, op)
}

// serviceToken returns the cached service-account token, fetching a new one with the
// client_credentials grant when it is missing or close to expiry.
func (a *Admin) serviceToken(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && time.Now().Before(a.refreshAt) {
		return a.token, nil
	}
	p, err := a.kc.Provider(ctx)
	if err != nil {
		return "", err
	}
	cc := clientcredentials.Config{ClientID: a.kc.opt.ClientID, ClientSecret: a.kc.opt.ClientSecret,
		TokenURL: p.Endpoint().TokenURL, AuthStyle: oauth2.AuthStyleInHeader}
	ts, err := a.kc.exchange(ctx, nil, "admin_token", cc.Token)
	if err != nil {
		return "", err
	}
	if ts.AccessToken == "" {
		return "", &Error{Op: "admin_token", Status: http.StatusOK, Code: "malformed_response", Description: "no access_token in the answer"}
	}
	a.token, a.refreshAt = ts.AccessToken, time.Time{} // no expires_in: use it for this call only
	if !ts.Expiry.IsZero() {
		a.refreshAt = ts.Expiry.Add(-min(adminTokenMargin, time.Until(ts.Expiry)/4))
	}
	return a.token, nil
}

// forget drops the cached token.
func (a *Admin) forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.token, a.refreshAt = "", time.Time{}
}
