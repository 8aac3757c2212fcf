package testenv

import (
	"testing"
	"time"

	"github.com/auth-manager/auth-manager/internal/devstack"
)

// KeycloakProxy is a reverse proxy in front of the stack's Keycloak, to be the
// service's KEYCLOAK_URL, that counts refresh grants and holds each for its delay: see
// devstack.KeycloakProxy.
type KeycloakProxy = devstack.KeycloakProxy

// StartKeycloakProxy starts a proxy that delays refresh grants by delay. It stops when
// the test ends.
func StartKeycloakProxy(t testing.TB, delay time.Duration) *KeycloakProxy {
	t.Helper()
	p, err := devstack.StartKeycloakProxy(KeycloakBase(t))
	Must(t, err, "Keycloak proxy")
	p.SetDelay(delay)
	t.Cleanup(p.Close)
	return p
}
