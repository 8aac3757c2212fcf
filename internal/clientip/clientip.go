package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Resolver finds the client IP of a request.
type Resolver struct {
	// Trusted are the proxies whose X-Forwarded-For is believed.
	Trusted []netip.Prefix
}

// Of returns r's client IP: the peer's address, or, when the peer is a trusted proxy,
// the right-most X-Forwarded-For address that is not a trusted proxy (every proxy
// appends the address it saw, so addresses left of the first untrusted one are
// whatever the client wrote).
func (res Resolver) Of(r *http.Request) string {
	if len(res.Trusted) == 0 {
		// The common case, on every request: the peer's host, a substring, no allocation.
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return host
		}
		return r.RemoteAddr
	}
	peer, ok := parse(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !res.trusted(peer) {
		return peer.String()
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parse(hops[i])
		if !ok {
			break // a malformed entry: trust nothing left of it
		}
		client = hop
		if !res.trusted(hop) {
			break
		}
	}
	return client.String()
}

func (res Resolver) trusted(a netip.Addr) bool {
	return slices.ContainsFunc(res.Trusted, func(p netip.Prefix) bool { return p.Contains(a) })
}

func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// parse reads an address with or without a port ("1.2.3.4", "1.2.3.4:80", "[::1]:80").
func parse(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
