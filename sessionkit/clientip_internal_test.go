package sessionkit

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientIP checks which address is recorded: the peer's, or what a
// trusted proxy forwards, read right to left past the trusted proxies.
func TestClientIP(t *testing.T) {
	t.Parallel()
	k := &Kit{trustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	for _, tc := range []struct {
		name   string
		remote string
		header map[string][]string
		want   string
	}{
		{"peer", "198.51.100.7:5000", nil, "198.51.100.7"},
		{"IPv6 peer", "[2001:db8::7]:5000", nil, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:198.51.100.7]:5000", nil, "198.51.100.7"},
		{"peer with a zone", "[fe80::1%eth0]:5000", nil, "fe80::1"},
		{"not an address", "@", nil, ""},
		{"untrusted peer's X-Forwarded-For", "198.51.100.7:5000", map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.7"},
		{"untrusted peer's Forwarded", "198.51.100.7:5000", map[string][]string{"Forwarded": {"for=203.0.113.9"}}, "198.51.100.7"},
		{"trusted proxy", "10.0.0.5:443", map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"trusted proxy, no header", "10.0.0.5:443", nil, "10.0.0.5"},
		{"two trusted proxies", "10.0.0.5:443", map[string][]string{"X-Forwarded-For": {"203.0.113.9, 10.0.0.6"}}, "203.0.113.9"},
		{"a client's invention left of the client", "10.0.0.5:443", map[string][]string{"X-Forwarded-For": {"1.1.1.1, 203.0.113.9"}}, "203.0.113.9"},
		{"several header lines", "10.0.0.5:443", map[string][]string{"X-Forwarded-For": {"1.1.1.1", "203.0.113.9,10.0.0.6"}}, "203.0.113.9"},
		{"every hop trusted", "10.0.0.5:443", map[string][]string{"X-Forwarded-For": {"10.0.0.7, 10.0.0.6"}}, "10.0.0.7"},
		{"garbage ends the walk", "10.0.0.5:443", map[string][]string{"X-Forwarded-For": {"203.0.113.9, nonsense, 10.0.0.6"}}, "10.0.0.6"},
		{"garbage right away", "10.0.0.5:443", map[string][]string{"X-Forwarded-For": {"nonsense"}}, "10.0.0.5"},
		{"with a port", "10.0.0.5:443", map[string][]string{"X-Forwarded-For": {"203.0.113.9:61000"}}, "203.0.113.9"},
		{"IPv6 in brackets", "[fd00::1]:443", map[string][]string{"X-Forwarded-For": {"[2001:db8::9]"}}, "2001:db8::9"},
		{"Forwarded", "10.0.0.5:443", map[string][]string{"Forwarded": {`for=203.0.113.9;proto=https, for="[fd00::2]:80"`}}, "203.0.113.9"},
		{"Forwarded, quoted IPv6", "10.0.0.5:443", map[string][]string{"Forwarded": {`For="[2001:db8:cafe::17]:4711"`}}, "2001:db8:cafe::17"},
		{"Forwarded unknown", "10.0.0.5:443", map[string][]string{"Forwarded": {"for=unknown"}}, "10.0.0.5"},
		{"X-Forwarded-For before Forwarded", "10.0.0.5:443", map[string][]string{
			"X-Forwarded-For": {"203.0.113.9"}, "Forwarded": {"for=192.0.2.1"}}, "203.0.113.9"},
	} {
		r := httptest.NewRequest("GET", "http://app.example.com/", nil)
		r.RemoteAddr = tc.remote
		for name, values := range tc.header {
			for _, v := range values {
				r.Header.Add(name, v)
			}
		}
		if got := k.clientIP(r); got != tc.want {
			t.Errorf("%s: clientIP = %q, want %q", tc.name, got, tc.want)
		}
	}
}
