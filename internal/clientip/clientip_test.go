package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOf(t *testing.T) {
	res := Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for name, tc := range map[string]struct {
		peer string
		xff  []string
		want string
	}{
		"untrusted peer: its own address, XFF ignored": {"203.0.113.7:5000", []string{"1.1.1.1"}, "203.0.113.7"},
		"trusted peer without XFF":                     {"10.1.2.3:5000", nil, "10.1.2.3"},
		"trusted peer: the client it saw":              {"10.1.2.3:5000", []string{"198.51.100.4"}, "198.51.100.4"},
		"spoofed left entries are ignored":             {"10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.4"}, "198.51.100.4"},
		"through two trusted proxies":                  {"10.1.2.3:5000", []string{"198.51.100.4, 10.9.9.9"}, "198.51.100.4"},
		"several headers":                              {"10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.4"}, "198.51.100.4"},
		"malformed entry stops the walk":               {"10.1.2.3:5000", []string{"198.51.100.4, garbage"}, "10.1.2.3"},
		"IPv6 loopback proxy":                          {"[::1]:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		"IPv4-mapped peer":                             {"[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		assert.Equal(t, tc.want, res.Of(r), name)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.7:5000"
	r.Header.Set("X-Forwarded-For", "1.1.1.1")
	assert.Equal(t, "203.0.113.7", Resolver{}.Of(r), "no trusted proxies: the peer")
}

func FuzzOf(f *testing.F) {
	f.Add("10.1.2.3:5000", "198.51.100.4, 10.9.9.9")
	f.Add("[::1]:1", "[2001:db8::1]:80, garbage,,")
	res := Resolver{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := res.Of(r)
		if _, err := netip.ParseAddr(got); err != nil && got != peer {
			t.Fatalf("Of = %q: neither an address nor the raw peer", got)
		}
	})
}
