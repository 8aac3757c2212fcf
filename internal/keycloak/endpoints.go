package keycloak

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// discoveryDoc is the part of the discovery document the service uses.
type discoveryDoc struct {
	Issuer      string   `json:"issuer"`
	Auth        string   `json:"authorization_endpoint"`
	Token       string   `json:"token_endpoint"`
	DeviceAuth  string   `json:"device_authorization_endpoint"`
	UserInfo    string   `json:"userinfo_endpoint"`
	JWKS        string   `json:"jwks_uri"`
	Introspect  string   `json:"introspection_endpoint"`
	Revoke      string   `json:"revocation_endpoint"`
	EndSession  string   `json:"end_session_endpoint"`
	SigningAlgs []string `json:"id_token_signing_alg_values_supported"`
}

// signingAlgs are the algorithms go-oidc verifies; discovery's list is filtered to
// them, as oidc.NewProvider does.
var signingAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

// fetchDiscovery reads the realm's discovery document. Without a separate ConnectURL
// it is go-oidc's own discovery, which insists that the document's issuer is
// IssuerURL. With one (KEYCLOAK_URL: Keycloak reached at an internal address while
// tokens carry the public issuer) the document is fetched from ConnectURL with
// go-oidc's issuer check relaxed, the provider is pinned to IssuerURL (so every
// signature check still requires the public iss), and the endpoints are rewritten:
// those the service calls go to ConnectURL, those a browser follows stay public.
func (c *Client) fetchDiscovery(ctx context.Context) (*discovered, error) {
	connect := c.opt.ConnectURL
	if connect == "" || connect == c.opt.IssuerURL {
		p, err := oidc.NewProvider(ctx, c.opt.IssuerURL)
		if err != nil {
			return nil, fmt.Errorf("%w: discovery of %s: %v", ErrUnavailable, c.opt.IssuerURL, err)
		}
		var doc discoveryDoc
		if err := p.Claims(&doc); err != nil || doc.Introspect == "" {
			return nil, fmt.Errorf("%w: discovery of %s lacks introspection_endpoint", ErrUnavailable, c.opt.IssuerURL)
		}
		return &discovered{provider: p, introspect: doc.Introspect, revoke: doc.Revoke, endSession: doc.EndSession, jwks: doc.JWKS}, nil
	}
	raw, err := oidc.NewProvider(oidc.InsecureIssuerURLContext(ctx, c.opt.IssuerURL), connect)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery of %s: %v", ErrUnavailable, connect, err)
	}
	var doc discoveryDoc
	if err := raw.Claims(&doc); err != nil || doc.Introspect == "" {
		return nil, fmt.Errorf("%w: discovery of %s lacks introspection_endpoint", ErrUnavailable, connect)
	}
	if doc.Issuer != c.opt.IssuerURL {
		// Tokens will carry doc.Issuer and be refused: say why once, here.
		c.log.WarnContext(ctx, "Keycloak names another issuer than KEYCLOAK_ISSUER; tokens it issues will be refused",
			"discovered_issuer", doc.Issuer, "issuer", c.opt.IssuerURL, "keycloak_url", connect)
	}
	d := rewrite(doc, c.opt.IssuerURL, connect)
	pc := oidc.ProviderConfig{IssuerURL: c.opt.IssuerURL, AuthURL: d.Auth, TokenURL: d.Token,
		DeviceAuthURL: d.DeviceAuth, UserInfoURL: d.UserInfo, JWKSURL: d.JWKS}
	for _, a := range d.SigningAlgs {
		if slices.Contains(signingAlgs, a) {
			pc.Algorithms = append(pc.Algorithms, a)
		}
	}
	return &discovered{provider: pc.NewProvider(ctx), introspect: d.Introspect, revoke: d.Revoke, endSession: d.EndSession, jwks: d.JWKS}, nil
}

// rewrite points the back-channel endpoints (token, introspection, revocation, JWKS,
// userinfo, device) at connect and the front-channel ones (authorization, end
// session) at public. Keycloak lists every endpoint under a realm URL: either the one
// it was asked at, its configured hostname's, or (with a dynamic back-channel) a mix;
// each endpoint under any of the known realm URLs is moved, others are left alone.
func rewrite(d discoveryDoc, public, connect string) discoveryDoc {
	known := []string{d.Issuer, public, connect}
	to := func(base, u string) string {
		for _, k := range known {
			if k != "" && (u == k || strings.HasPrefix(u, k+"/")) {
				return base + strings.TrimPrefix(u, k)
			}
		}
		return u
	}
	for _, p := range []*string{&d.Token, &d.Introspect, &d.Revoke, &d.JWKS, &d.UserInfo, &d.DeviceAuth} {
		*p = to(connect, *p)
	}
	for _, p := range []*string{&d.Auth, &d.EndSession} {
		*p = to(public, *p)
	}
	return d
}
