package sessionkit

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// What the store records of a request for a session bound to a user: the
// client's address and its User-Agent header, each unless switched off
// (SESSION_RECORD_IP, SESSION_RECORD_USER_AGENT).
//
// The address is the connection's peer. Only a peer listed in
// SESSION_TRUSTED_PROXIES may name another client, in X-Forwarded-For or,
// when a request has none, in Forwarded: any client can send these headers
// with any address in them, so from anyone else they are ignored.

// request is the store's record of r: its client, and with
// SESSION_UPGRADE_PLAIN_TOKENS the token as the client sent it, under the
// cookie name scs reads, so that the store can find a session stored under
// it before hashing was turned on.
func (k *Kit) request(r *http.Request) *sessionmysql.Request {
	info := &sessionmysql.Request{}
	if k.upgradePlainTokens {
		if c, err := r.Cookie(k.Manager.Cookie.Name); err == nil {
			info.PlainToken = c.Value
		}
	}
	if k.recordIP {
		info.IP = k.clientIP(r)
	}
	if k.recordUserAgent {
		info.UserAgent = r.UserAgent() // the store makes it fit the column
	}
	return info
}

// clientIP is the address of r's client, without a port, or "" when r's
// peer is not an IP address (a unix socket).
func (k *Kit) clientIP(r *http.Request) string {
	peer, ok := peerAddr(r)
	if !ok {
		return ""
	}
	if k.trusts(peer) {
		if client, ok := k.forwardedClient(r.Header); ok {
			peer = client
		}
	}
	return peer.String()
}

// peerAddr is the address of the connection r came over.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return parseAddr(host)
}

// parseAddr reads an address as the headers and RemoteAddr give it: "a",
// "[a]" or with a port, "a:port" or "[a]:port". An IPv4 address in IPv6
// form counts as IPv4, and a zone is dropped.
func parseAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	addr, err := netip.ParseAddr(s)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(s); perr == nil {
			addr, err = ap.Addr(), nil
		} else if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
			addr, err = netip.ParseAddr(s[1 : len(s)-1])
		}
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}

// trusts reports whether addr is in SESSION_TRUSTED_PROXIES.
func (k *Kit) trusts(addr netip.Addr) bool {
	for _, p := range k.trustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// forwardedClient is the client that the proxies in front of the kit name
// in X-Forwarded-For or, when there is none, in Forwarded's for= values:
// the right-most address that is not a trusted proxy. Each proxy appends
// the address it got the request from, so what is right of that address
// was written by proxies the kit trusts, and what is left of it by the
// client, which can write anything there. When every address is a trusted
// proxy's, the left-most is the client. An entry that is not an address
// (Forwarded's "unknown" or an obfuscated name, or a client's invention)
// ends the walk at the last trusted proxy. ok is false when the headers
// name no address, and the peer stands.
func (k *Kit) forwardedClient(h http.Header) (client netip.Addr, ok bool) {
	values, forwarded := h.Values("X-Forwarded-For"), false
	if len(values) == 0 {
		values, forwarded = h.Values("Forwarded"), true
	}
	// Right to left, over every line of the header and every entry of each.
	for i := len(values) - 1; i >= 0; i-- {
		rest := values[i]
		for rest != "" {
			var entry string
			if comma := strings.LastIndexByte(rest, ','); comma >= 0 {
				rest, entry = rest[:comma], rest[comma+1:]
			} else {
				rest, entry = "", rest
			}
			if strings.TrimSpace(entry) == "" {
				continue
			}
			if forwarded {
				entry = forwardedFor(entry)
			}
			addr, valid := parseAddr(entry)
			if !valid {
				return client, ok
			}
			client, ok = addr, true
			if !k.trusts(addr) {
				return client, ok
			}
		}
	}
	return client, ok
}

// forwardedFor is the for= value of one element of a Forwarded header
// (RFC 7239), such as `for=192.0.2.60;proto=https` or
// `for="[2001:db8::17]:4711"`, unquoted; "" when it has none.
func forwardedFor(element string) string {
	for pair := range strings.SplitSeq(element, ";") {
		name, value, found := strings.Cut(strings.TrimSpace(pair), "=")
		if found && strings.EqualFold(strings.TrimSpace(name), "for") {
			return strings.Trim(strings.TrimSpace(value), `"`)
		}
	}
	return ""
}
