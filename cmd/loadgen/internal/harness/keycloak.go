package harness

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/auth-manager/auth-manager/internal/devstack"
)

// Keycloak is the stack's realm as the harness uses it, through devstack's client: the
// token grants the fixtures need and the admin calls that create and delete bench
// users, made as the service's client (its service account has manage-users).
type Keycloak struct {
	Realm                string
	ClientID, Secret     string // the service's confidential client
	CallerID, CallerPass string // a client whose tokens carry the service role

	kc    *devstack.Keycloak
	admin *devstack.Admin
}

// NewKeycloak returns a client of realm at base; it makes no call.
func NewKeycloak(base, realm, clientID, secret, callerID, callerSecret string) *Keycloak {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	kc := devstack.NewKeycloak(base, &http.Client{Transport: tr, Timeout: 30 * time.Second})
	return &Keycloak{Realm: realm, ClientID: clientID, Secret: secret, CallerID: callerID, CallerPass: callerSecret,
		kc: kc, admin: kc.ServiceAccount(realm, clientID, secret)}
}

// TokenEndpoint is the realm's token endpoint.
func (k *Keycloak) TokenEndpoint() string { return k.kc.TokenEndpoint(k.Realm) }

// Password logs a user in on the service's client (a new Keycloak session).
func (k *Keycloak) Password(ctx context.Context, user, password string) (devstack.Tokens, error) {
	return k.kc.Password(ctx, k.Realm, k.ClientID, k.Secret, user, password, "openid")
}

// Refresh presents a refresh token of the service's client (the baseline B call).
func (k *Keycloak) Refresh(ctx context.Context, refreshToken string) (devstack.Tokens, error) {
	return k.kc.Refresh(ctx, k.Realm, k.ClientID, k.Secret, refreshToken)
}

func (k *Keycloak) refreshForm(refreshToken string) url.Values {
	return devstack.RefreshForm(k.ClientID, k.Secret, refreshToken)
}

// ServiceCallerToken is a client-credentials token of the service-caller client.
func (k *Keycloak) ServiceCallerToken(ctx context.Context) (devstack.Tokens, error) {
	return k.kc.ClientCredentials(ctx, k.Realm, k.CallerID, k.CallerPass)
}

// CreateUser creates an enabled user with a password and returns its id.
func (k *Keycloak) CreateUser(ctx context.Context, name, password string) (string, error) {
	return k.admin.CreateUser(ctx, k.Realm, name, password)
}

// DeleteUser deletes a user (and with it its sessions).
func (k *Keycloak) DeleteUser(ctx context.Context, id string) error {
	return k.admin.DeleteUser(ctx, k.Realm, id)
}

// UsersWithPrefix lists up to max users whose name starts with prefix.
func (k *Keycloak) UsersWithPrefix(ctx context.Context, prefix string, max int) ([]devstack.User, error) {
	return k.admin.UsersWithPrefix(ctx, k.Realm, prefix, max)
}
