package events

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/auth-manager/auth-manager/internal/keycloak"
	"github.com/auth-manager/auth-manager/internal/store"
)

func TestDeadlineOf(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	after := func(d time.Duration) *time.Time { v := start.Add(d); return &v }
	const h = 3600
	cases := []struct {
		name     string
		settings keycloak.RealmSettings
		client   map[string]string
		typ      store.TokenType
		remember bool
		want     Deadline
	}{
		{"offline without max lifespan", keycloak.RealmSettings{OfflineSessionMaxLifespan: 10 * h}, nil, store.Offline, false,
			Deadline{Basis: BasisNoMaxLifespan}},
		{"offline max lifespan", keycloak.RealmSettings{OfflineSessionMaxLifespanEnabled: true, OfflineSessionMaxLifespan: 10 * h}, nil, store.Offline, false,
			Deadline{after(10 * time.Hour), BasisOfflineMax}},
		{"offline max lifespan, Keycloak's default", keycloak.RealmSettings{OfflineSessionMaxLifespanEnabled: true}, nil, store.Offline, false,
			Deadline{after(60 * 24 * time.Hour), BasisOfflineMax}},
		{"client offline max, shorter", keycloak.RealmSettings{OfflineSessionMaxLifespanEnabled: true, OfflineSessionMaxLifespan: 10 * h},
			map[string]string{"client.offline.session.max.lifespan": "7200"}, store.Offline, false, Deadline{after(2 * time.Hour), BasisClientOfflineMax}},
		{"client offline max, longer: the realm's bounds it", keycloak.RealmSettings{OfflineSessionMaxLifespanEnabled: true, OfflineSessionMaxLifespan: h},
			map[string]string{"client.offline.session.max.lifespan": "7200"}, store.Offline, false, Deadline{after(time.Hour), BasisOfflineMax}},
		{"client offline max without the realm's", keycloak.RealmSettings{}, map[string]string{"client.offline.session.max.lifespan": "7200"},
			store.Offline, false, Deadline{after(2 * time.Hour), BasisClientOfflineMax}},
		{"realm-level client offline max", keycloak.RealmSettings{OfflineSessionMaxLifespanEnabled: true, OfflineSessionMaxLifespan: 10 * h, ClientOfflineSessionMaxLifespan: 3 * h},
			nil, store.Offline, false, Deadline{after(3 * time.Hour), BasisClientOfflineMax}},
		{"online: SSO session max", keycloak.RealmSettings{SSOSessionMaxLifespan: 8 * h}, nil, store.Refresh, false,
			Deadline{after(8 * time.Hour), BasisSSOMax}},
		{"online: Keycloak's default", keycloak.RealmSettings{}, nil, store.Refresh, false, Deadline{after(10 * time.Hour), BasisSSOMax}},
		{"online, remember me", keycloak.RealmSettings{SSOSessionMaxLifespan: 8 * h, SSOSessionMaxLifespanRememberMe: 48 * h}, nil, store.Refresh, true,
			Deadline{after(48 * time.Hour), BasisSSOMaxRememberMe}},
		{"online, client session max", keycloak.RealmSettings{SSOSessionMaxLifespan: 8 * h}, map[string]string{"client.session.max.lifespan": "3600"},
			store.Refresh, false, Deadline{after(time.Hour), BasisClientSessionMax}},
		{"online, client session max longer than SSO", keycloak.RealmSettings{SSOSessionMaxLifespan: 8 * h}, map[string]string{"client.session.max.lifespan": "36000"},
			store.Refresh, false, Deadline{after(8 * time.Hour), BasisSSOMax}},
		{"online, realm-level client session max", keycloak.RealmSettings{SSOSessionMaxLifespan: 8 * h, ClientSessionMaxLifespan: 2 * h}, nil,
			store.Refresh, false, Deadline{after(2 * time.Hour), BasisClientSessionMax}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, deadlineOf(Realm{Settings: tc.settings, Client: tc.client}, tc.typ, start, tc.remember))
		})
	}
}

// TestSendErrorNamesNoURL: a failed request is described by its cause, without the
// subscriber's URL, whose path or query may hold the receiver's credential.
func TestSendErrorNamesNoURL(t *testing.T) {
	err := &url.Error{Op: "Post", URL: "https://hooks.example.com/T0/SECRETPATH?token=SECRETQ", Err: errors.New("dial tcp 192.0.2.1:443: connect: connection refused")}
	got := describeSendError(err)
	assert.Equal(t, "dial tcp 192.0.2.1:443: connect: connection refused", got)
	assert.NotContains(t, got, "SECRET")
}
