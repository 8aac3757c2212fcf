package events

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/auth-manager/auth-manager/internal/config"
)

// ErrForbiddenTarget means a subscriber's address is loopback, link-local, private or
// otherwise not public, and the subscriber does not allow_private_network.
var ErrForbiddenTarget = errors.New("events: the subscriber's address is not a public one (set allow_private_network to allow it)")

// guard refuses, at connect time, every address that is not public: the check applies
// to the address DNS gave, whatever the URL said, so a name that resolves (or
// re-resolves) to 127.0.0.1 or 169.254.169.254 gets nowhere.
func guard(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return ErrForbiddenTarget
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !config.PublicAddr(ip) {
		return ErrForbiddenTarget
	}
	return nil
}

// newClient is the HTTP client of one subscriber: no proxy (the address checked is the
// one connected to), no redirects (a 3xx is a failed delivery), every phase bounded by
// timeout, and unless allowPrivate, public addresses only.
func newClient(timeout time.Duration, allowPrivate bool, conns int) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guard
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
