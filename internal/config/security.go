package config

import (
	"fmt"
	"math/big"
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
	var p problems
	var proxies []netip.Prefix
	for _, s := range splitList(e.TrustedProxies) {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				p.add(invalid("AUTH_MANAGER_TRUSTED_PROXIES", "must be IP addresses or CIDR prefixes, comma-separated"))
				continue
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		proxies = append(proxies, unmapPrefix(pfx.Masked()))
	}
	if e.RateLimit < 0 || e.RateLimit > 1_000_000 {
		p.add(invalid("AUTH_MANAGER_RATE_LIMIT", "must be between 0 (off) and 1000000"))
	}
	p.add(within("AUTH_MANAGER_RATE_LIMIT_WINDOW", e.RateLimitWindow, time.Second, time.Hour))
	if err := p.err(); err != nil {
		return Edge{}, err
	}
	return Edge{TrustedProxies: proxies, RateLimit: e.RateLimit, RateLimitWindow: time.Duration(e.RateLimitWindow)}, nil
}

// unmapPrefix writes an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) as the IPv4
// prefix it means (10.0.0.0/8): client addresses are compared unmapped, so the mapped
// form would never match, and it must count as IPv4 space below.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// Trusting proxies means believing what they say a client's address is; a range that
// large holds clients too, which could then name any address.
const (
	maxTrustedV4Bits = 8  // at most a /8 of IPv4 addresses in total
	maxTrustedV6Bits = 32 // at most a /32 of IPv6 addresses in total
)

// trustedTooWide reports whether prefixes together (overlaps counted once) cover more
// IPv4 addresses than one /8, or more IPv6 addresses than one /32.
func trustedTooWide(prefixes []netip.Prefix) (v4, v6 bool) {
	sorted := slices.Clone(prefixes)
	slices.SortFunc(sorted, func(a, b netip.Prefix) int { return a.Bits() - b.Bits() })
	var kept []netip.Prefix
	for _, p := range sorted {
		// Two prefixes are disjoint or one holds the other: drop those a wider one holds.
		if !slices.ContainsFunc(kept, func(k netip.Prefix) bool { return k.Contains(p.Addr()) }) {
			kept = append(kept, p)
		}
	}
	sum4, sum6 := new(big.Int), new(big.Int)
	for _, p := range kept {
		size := new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits()))
		if p.Addr().Is4() {
			sum4.Add(sum4, size)
		} else {
			sum6.Add(sum6, size)
		}
	}
	limit4 := new(big.Int).Lsh(big.NewInt(1), 32-maxTrustedV4Bits)
	limit6 := new(big.Int).Lsh(big.NewInt(1), 128-maxTrustedV6Bits)
	return sum4.Cmp(limit4) > 0, sum6.Cmp(limit6) > 0
}

// checkUnsafe refuses settings that are each valid but together silently weaken the
// service. Each problem is one line naming the variables.
func (c Config) checkUnsafe() error {
	var p problems
	unsafe := func(vars, why string) { p.add(invalid(vars, "unsafe: "+why)) }
	if c.CORSAllowCredentials {
		if slices.Contains(c.CORSOrigins, "*") {
			unsafe("CORS_ORIGINS=* with CORS_ALLOW_CREDENTIALS=true",
				"any web site could call the API with the user's credentials; list the origins, or set CORS_ALLOW_CREDENTIALS=false")
		} else if slices.ContainsFunc(c.CORSOrigins, func(o string) bool { return strings.EqualFold(o, "null") }) {
			unsafe("CORS_ORIGINS=null with CORS_ALLOW_CREDENTIALS=true",
				"sandboxed frames and local files of any site send Origin: null")
		}
	}
	v4, v6 := trustedTooWide(c.Edge.TrustedProxies)
	if v4 || v6 {
		wide := "more than a /8 of IPv4 addresses"
		if !v4 {
			wide = "more than a /32 of IPv6 addresses"
		}
		unsafe("AUTH_MANAGER_TRUSTED_PROXIES",
			fmt.Sprintf("trusts %s in total; every client in that range could choose its own IP (X-Forwarded-For), "+
				"and so escape AUTH_MANAGER_RATE_LIMIT; list only the proxies' own addresses", wide))
	}
	return p.err()
}
