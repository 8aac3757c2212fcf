package keycloak

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRewrite covers the discovery documents Keycloak gives at an internal address:
// with a pinned public hostname (everything public), with a dynamic back-channel
// (back-channel endpoints at the address asked), and without a hostname (everything
// at the address asked). The service always calls the internal address and sends
// browsers to the public one.
func TestRewrite(t *testing.T) {
	const (
		public  = "https://sso.example.com/realms/r"
		connect = "http://keycloak:8080/realms/r"
		oc      = "/protocol/openid-connect"
	)
	want := discoveryDoc{
		Auth: public + oc + "/auth", EndSession: public + oc + "/logout",
		Token: connect + oc + "/token", Introspect: connect + oc + "/token/introspect",
		Revoke: connect + oc + "/revoke", JWKS: connect + oc + "/certs", UserInfo: connect + oc + "/userinfo",
	}
	doc := func(issuer, front, back string) discoveryDoc {
		return discoveryDoc{Issuer: issuer, Auth: front + oc + "/auth", EndSession: front + oc + "/logout",
			Token: back + oc + "/token", Introspect: back + oc + "/token/introspect", Revoke: back + oc + "/revoke",
			JWKS: back + oc + "/certs", UserInfo: back + oc + "/userinfo"}
	}
	for name, d := range map[string]discoveryDoc{
		"pinned hostname":      doc(public, public, public),
		"dynamic back-channel": doc(public, public, connect),
		"no hostname":          doc(connect, connect, connect),
	} {
		t.Run(name, func(t *testing.T) {
			got := rewrite(d, public, connect)
			got.Issuer = ""
			assert.Equal(t, want, got)
		})
	}
	t.Run("foreign endpoints are left alone", func(t *testing.T) {
		d := doc(public, public, public)
		d.UserInfo = "https://userinfo.example.org/u"
		d.Token = public + "-other" + oc + "/token" // a sibling realm's prefix is not this realm's
		got := rewrite(d, public, connect)
		assert.Equal(t, "https://userinfo.example.org/u", got.UserInfo)
		assert.Equal(t, public+"-other"+oc+"/token", got.Token)
	})
}
