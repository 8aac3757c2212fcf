package keycloak_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/testenv"
)

// tokenLifespan is how long Keycloak made an access token live (exp - iat).
func tokenLifespan(t *testing.T, token string) time.Duration {
	t.Helper()
	c := testenv.Claims(t, token)
	return time.Duration(c["exp"].(float64)-c["iat"].(float64)) * time.Second
}

// TestAccessTokenLifespanOnTheRealKeycloak: the realm's lifespan, or a listed client's
// override (attribute access.token.lifespan) when longer, which Keycloak applies to the
// client's tokens; clients not listed, or that do not exist, do not count.
func TestAccessTokenLifespanOnTheRealKeycloak(t *testing.T) {
	ctx := t.Context()
	realm, kc := exchangeRealmWith(t, testenv.RealmOptions{AccessTokenLifespan: 7 * time.Minute, OtherClient: true})
	admin := keycloak.NewAdmin(kc)
	lifespan := func(clients ...string) time.Duration {
		d, err := admin.AccessTokenLifespan(ctx, clients)
		require.NoError(t, err)
		return d
	}
	assert.Equal(t, 7*time.Minute, lifespan(testenv.ServiceClient))
	assert.Equal(t, 7*time.Minute, tokenLifespan(t, realm.Login(t, testenv.Alice, "").AccessToken))

	realm.SetClientAttribute(t, testenv.ServiceClient, "access.token.lifespan", "900")
	assert.Equal(t, 15*time.Minute, lifespan(testenv.ServiceClient))
	assert.Equal(t, 15*time.Minute, tokenLifespan(t, realm.Login(t, testenv.Alice, "").AccessToken), "Keycloak applies the override")

	realm.SetClientAttribute(t, testenv.OtherClient, "access.token.lifespan", "1800")
	assert.Equal(t, 15*time.Minute, lifespan(testenv.ServiceClient), "a client not listed does not count")
	assert.Equal(t, 30*time.Minute, lifespan(testenv.ServiceClient, testenv.OtherClient, "no-such-client"))

	realm.SetClientAttribute(t, testenv.ServiceClient, "access.token.lifespan", "60")
	assert.Equal(t, 7*time.Minute, lifespan(testenv.ServiceClient), "a shorter override: the realm's is the longest")
}

// TestAccessTokenLifespanNeedsViewRealm: without view-realm the lifespan is an error,
// not a zero.
func TestAccessTokenLifespanNeedsViewRealm(t *testing.T) {
	_, kc := exchangeRealmWith(t, testenv.RealmOptions{NoViewRealm: true})
	_, err := keycloak.NewAdmin(kc).AccessTokenLifespan(t.Context(), []string{testenv.ServiceClient})
	var ke *keycloak.Error
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, 403, ke.Status)
}
