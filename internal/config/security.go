package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Edge configures what the service trusts about its peers and how it limits them.
type Edge struct {
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (AUTH_MANAGER_TRUSTED_PROXIES); for every other peer the client IP is its address.
	TrustedProxies []netip.Prefix
	// RateLimit is how many failed requests (failed authentications, refused consent
	// callbacks, refused back-channel logouts) one client IP may make per RateLimitWindow
	// on each of those surfaces before it gets 429; 0 disables the limit.
	RateLimit       int
	RateLimitWindow time.Duration
}

// asymmetricAlgs are the JWS algorithms AUTH_MANAGER_SIGNING_ALGS may name: never an
// HMAC one (a public key must not double as a secret) and never "none".
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func signingAlgs(s string) ([]string, error) {
	algs := splitList(s)
	if len(algs) == 0 {
		return nil, invalid("AUTH_MANAGER_SIGNING_ALGS", "must name at least one algorithm")
	}
	for _, a := range algs {
		if !slices.Contains(asymmetricAlgs, a) {
			return nil, invalid("AUTH_MANAGER_SIGNING_ALGS", "must be asymmetric algorithms among "+strings.Join(asymmetricAlgs, ","))
		}
	}
	return algs, nil
}

func (e env) edge() (Edge, error) {
	var proxies []netip.Prefix
	for _, p := range splitList(e.TrustedProxies) {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return Edge{}, invalid("AUTH_MANAGER_TRUSTED_PROXIES", "must be IP addresses or CIDR prefixes, comma-separated")
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		proxies = append(proxies, pfx.Masked())
	}
	if e.RateLimit < 0 || e.RateLimit > 1_000_000 {
		return Edge{}, invalid("AUTH_MANAGER_RATE_LIMIT", "must be between 0 (off) and 1000000")
	}
	if e.RateLimitWindow < 1 || e.RateLimitWindow > 3600 {
		return Edge{}, invalid("AUTH_MANAGER_RATE_LIMIT_WINDOW", "must be between 1 and 3600 seconds")
	}
	return Edge{TrustedProxies: proxies, RateLimit: e.RateLimit, RateLimitWindow: seconds(e.RateLimitWindow)}, nil
}

// checkUnsafe refuses combinations that are each valid but together silently weaken
// the service. The error is one line naming the variables.
func (c Config) checkUnsafe() error {
	unsafe := func(vars, why string) error { return fmt.Errorf("config: unsafe combination: %s: %s", vars, why) }
	if c.CORSAllowCredentials {
		if slices.Contains(c.CORSOrigins, "*") {
			return unsafe("CORS_ORIGINS=* with CORS_ALLOW_CREDENTIALS=true",
				"any web site could call the API with the user's credentials; list the origins, or set CORS_ALLOW_CREDENTIALS=false")
		}
		if slices.ContainsFunc(c.CORSOrigins, func(o string) bool { return strings.EqualFold(o, "null") }) {
			return unsafe("CORS_ORIGINS=null with CORS_ALLOW_CREDENTIALS=true",
				"sandboxed frames and local files of any site send Origin: null")
		}
	}
	for _, p := range c.Edge.TrustedProxies {
		if p.Bits() == 0 {
			return unsafe("AUTH_MANAGER_TRUSTED_PROXIES="+p.String(),
				"trusting every peer lets any client choose its own IP (X-Forwarded-For), and so escape AUTH_MANAGER_RATE_LIMIT")
		}
	}
	return nil
}
