package sessionkit

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"sessionkit.dev/internal/clip"
)

// Browsers keep a Secure cookie only from an HTTPS response, or from
// http://localhost. Served over plain HTTP anywhere else, the session
// cookie (Secure by default) is dropped without a word: every request starts
// a new session, a login does not stick, and each page load writes a row.
// The kit says so in its log, at most once every cookieWarningEvery.

// cookieWarningEvery is the least time between two warnings that a Secure
// session cookie went out over plain HTTP: a problem that lasts is logged
// again, so that one request (any client can send one) cannot use the
// warning up for good, yet no client can fill the log with it.
const cookieWarningEvery = 10 * time.Minute

// SecureCookieOverHTTP reports whether a browser would drop the session
// cookie set in the response to r: the cookie is Secure (SESSION_COOKIE_SECURE),
// r came over plain HTTP, and its host is not localhost or a loopback
// address. A request counts as HTTPS when it came over TLS, or when
// a proxy listed in SESSION_TRUSTED_PROXIES says so in X-Forwarded-Proto;
// the header of any other client is ignored. A page can use it to warn its
// visitor; the kit's middleware logs a response that sets the cookie on
// such a request, at most once every 10 minutes.
func (k *Kit) SecureCookieOverHTTP(r *http.Request) bool {
	return k.Manager.Cookie.Secure && !k.cameOverHTTPS(r) && !isLocalHost(r.Host)
}

// cameOverHTTPS reports whether r reached the client's side over HTTPS.
func (k *Kit) cameOverHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	proto, ok := forwardedProto(r)
	return ok && k.fromTrustedProxy(r) && strings.EqualFold(proto, "https")
}

// forwardedProto is the first value of r's X-Forwarded-Proto header, the
// protocol between the client and the first proxy.
func forwardedProto(r *http.Request) (string, bool) {
	v := r.Header.Get("X-Forwarded-Proto")
	if v == "" {
		return "", false
	}
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first), true
}

// fromTrustedProxy reports whether r's peer is in SESSION_TRUSTED_PROXIES.
func (k *Kit) fromTrustedProxy(r *http.Request) bool {
	peer, ok := peerAddr(r)
	return ok && k.trusts(peer)
}

// isLocalHost reports whether a Host header names this machine in a way
// browsers treat as secure: localhost, a name under .localhost, or a
// loopback address.
func isLocalHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// cookieWarningDue reports whether cookieWarningEvery has passed since the
// last warning that a Secure cookie went out over plain HTTP.
func (k *Kit) cookieWarningDue() bool {
	last := k.lastCookieWarning.Load()
	return last == 0 || time.Now().UnixNano()-last >= int64(cookieWarningEvery)
}

// warnIfCookieDropped logs a response that sets the session cookie where a
// browser drops it (see SecureCookieOverHTTP), unless the last such warning
// is more recent than cookieWarningEvery. h is the response's header as it
// is about to be sent. The line names the request's host and, when the
// request has one, the X-Forwarded-Proto header that was not believed; not
// the client's address, which is the client's own business.
func (k *Kit) warnIfCookieDropped(r *http.Request, h http.Header) {
	if !setsCookie(h, k.Manager.Cookie.Name) {
		return
	}
	last, now := k.lastCookieWarning.Load(), time.Now().UnixNano()
	if last != 0 && now-last < int64(cookieWarningEvery) || !k.lastCookieWarning.CompareAndSwap(last, now) {
		return // logged lately, or by a request at the same time
	}
	attrs := []slog.Attr{slog.String("host", clip.ForLog(r.Host))}
	if proto, ok := forwardedProto(r); ok {
		// The header is there, but the peer that sent it is not in
		// SESSION_TRUSTED_PROXIES.
		attrs = append(attrs, slog.String("x_forwarded_proto", clip.ForLog(proto)))
	}
	k.logger.LogAttrs(context.Background(), slog.LevelWarn,
		"sessionkit: a Secure session cookie was set on a plain-HTTP request; browsers drop it, "+
			"so every request starts a new session and logins do not stick: serve HTTPS, "+
			"list the proxy that ends TLS in SESSION_TRUSTED_PROXIES, "+
			"or set SESSION_COOKIE_SECURE=false for plain HTTP in development "+
			"(logged at most once every 10 minutes)",
		attrs...)
}

// setsCookie reports whether h sets the cookie name.
func setsCookie(h http.Header, name string) bool {
	for _, v := range h.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return true
		}
	}
	return false
}
