package tokens

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAudienceAllowed(t *testing.T) {
	open := &Service{}
	assert.True(t, open.audienceAllowed("frontend", "orders-api"), "no list: Keycloak's exchange policy decides")

	s := &Service{opt: Options{Audiences: []string{"orders-api"},
		AudiencesByClient: map[string][]string{"jobs": {"billing"}, "batch": {}}}}
	for _, tc := range []struct {
		client, audience string
		want             bool
	}{
		{"frontend", "orders-api", true},
		{"frontend", "billing", false},
		{"jobs", "billing", true},
		{"jobs", "orders-api", false},
		{"batch", "orders-api", false},
	} {
		assert.Equal(t, tc.want, s.audienceAllowed(tc.client, tc.audience), "%s → %s", tc.client, tc.audience)
	}
}

func TestNotIn(t *testing.T) {
	granted := scopeSet("openid profile email")
	assert.Empty(t, notIn(scopeSet("email profile email"), granted))
	assert.Equal(t, []string{"phone"}, notIn(scopeSet("phone email"), granted))
	assert.Equal(t, []string{"address", "phone"}, notIn(scopeSet("phone address"), nil), "nothing granted: nothing asked for passes")
	assert.Empty(t, notIn(nil, nil))
}
