package keycloak

import (
	"strings"
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

// FuzzRewrite: whatever a discovery document lists (it comes from the network), a
// back-channel endpoint is either left as it was or moved under connect, a browser
// endpoint either left or moved under public, and a rewritten URL keeps the path after
// the realm prefix it replaced.
func FuzzRewrite(f *testing.F) {
	const public, connect = "https://sso.example.com/realms/r", "http://keycloak:8080/realms/r"
	f.Add(public, public+"/protocol/openid-connect/token", public+"/protocol/openid-connect/auth")
	f.Add(connect, connect+"/x", "http://other/realms/r/y")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, issuer, back, front string) {
		got := rewrite(discoveryDoc{Issuer: issuer, Token: back, Auth: front}, public, connect)
		for _, c := range []struct{ in, out, base string }{{back, got.Token, connect}, {front, got.Auth, public}} {
			if c.out == c.in {
				continue
			}
			if !strings.HasPrefix(c.out, c.base) {
				t.Fatalf("%q became %q, outside %q", c.in, c.out, c.base)
			}
			if !strings.HasSuffix(c.in, strings.TrimPrefix(c.out, c.base)) {
				t.Fatalf("%q became %q: the path after the realm changed", c.in, c.out)
			}
		}
	})
}
