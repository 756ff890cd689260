package sessionkit

import (
	"context"
	"net/http"
	"strings"
)

// This file holds every rule about the session cookie's name: the default
// name, the __Host- and __Secure- prefixes, and the legacy cookie whose
// session the middleware adopts during an upgrade.
//
// The default name became "__Host-session" where it was "session". Browsers
// take a __Host- cookie only from HTTPS (or localhost), only with Path "/"
// and no Domain, and never from another host, so a sibling subdomain
// cannot plant one; a plain "session" cookie it can, with
// Domain=example.com. That is why the kit adopts no other cookie unless
// the operator names one in SESSION_COOKIE_LEGACY_NAME, for the upgrade
// window only: while it is set, a request that carries the legacy cookie
// and not the session cookie keeps its session. The middleware hands scs
// the legacy cookie's value under the session cookie's name, marks the
// session modified so that scs sets the new cookie (the store writes
// nothing for a session whose values did not change), and expires the
// legacy cookie in the same response. A request that carries both is
// served from the session cookie, and its legacy cookie is expired too.

// The cookie names the kit picks when SESSION_COOKIE_NAME is empty.
const (
	// HostCookieName is the default where the cookie is Secure, has Path
	// "/" and no Domain: browsers accept a cookie with the __Host- prefix
	// only over HTTPS (or from localhost), and never from another host, so a
	// sibling subdomain cannot plant one in its place.
	HostCookieName = "__Host-session"
	// PlainCookieName is the default where the attributes rule the prefix
	// out, and the name of the session cookie before the prefix.
	PlainCookieName = "session"
)

// SessionCookieName is the name the session cookie has: CookieName, or,
// when that is empty, HostCookieName if the cookie's attributes allow the
// __Host- prefix and PlainCookieName if not.
func (c Config) SessionCookieName() string {
	switch {
	case c.CookieName != "":
		return c.CookieName
	case c.hostPrefixAllowed():
		return HostCookieName
	default:
		return PlainCookieName
	}
}

// LegacyCookieName is the name of the cookie whose session the middleware
// adopts, CookieLegacyName, or "" when it adopts none: by default, and
// when CookieLegacyName is "none".
func (c Config) LegacyCookieName() string {
	if c.CookieLegacyName == "none" {
		return ""
	}
	return c.CookieLegacyName
}

// hostPrefixAllowed reports whether browsers accept a cookie with the
// __Host- prefix and c's attributes.
func (c Config) hostPrefixAllowed() bool {
	return c.CookieSecure && c.CookiePath == "/" && c.CookieDomain == ""
}

// cookieNameChars says what a cookie name may hold, for error messages.
const cookieNameChars = "letters, digits and !#$%%&'*+-.^_`|~"

// checkCookieNames reports, through bad, what is wrong with
// SESSION_COOKIE_NAME and SESSION_COOKIE_LEGACY_NAME; ok tells whether a
// variable parsed (see Config.check).
func (c Config) checkCookieNames(bad func(name, value, format string, args ...any), ok func(string) bool) {
	if c.CookieName != "" {
		if !validCookieName(c.CookieName) {
			bad("SESSION_COOKIE_NAME", c.CookieName, "not a valid cookie name ("+cookieNameChars+")")
		} else if why := c.prefixProblem(ok); why != "" {
			bad("SESSION_COOKIE_NAME", c.CookieName, "%s", why)
		}
	}
	switch legacy := c.LegacyCookieName(); {
	case legacy == "":
	case !validCookieName(legacy):
		bad("SESSION_COOKIE_LEGACY_NAME", legacy, "not a valid cookie name ("+cookieNameChars+")")
	case legacy == c.SessionCookieName() && (c.CookieName != "" || ok("SESSION_COOKIE_SECURE")):
		bad("SESSION_COOKIE_LEGACY_NAME", legacy, "the session cookie's own name: name the cookie that held "+
			"the session before the upgrade, or leave it empty")
	}
}

// validCookieName reports whether name is a cookie name net/http sends.
func validCookieName(name string) bool {
	return (&http.Cookie{Name: name, Value: "v"}).Valid() == nil
}

// prefixProblem says why browsers would reject a cookie named CookieName
// with c's attributes, or returns "". Browsers match the __Host- and
// __Secure- prefixes in any letter case. ok tells whether a variable parsed.
func (c Config) prefixProblem(ok func(string) bool) string {
	name := strings.ToLower(c.CookieName)
	var needs []string
	switch {
	case strings.HasPrefix(name, "__host-"):
		if !c.CookieSecure && ok("SESSION_COOKIE_SECURE") {
			needs = append(needs, "SESSION_COOKIE_SECURE=true")
		}
		if c.CookiePath != "/" {
			needs = append(needs, "SESSION_COOKIE_PATH=/")
		}
		if c.CookieDomain != "" {
			needs = append(needs, "no SESSION_COOKIE_DOMAIN")
		}
	case strings.HasPrefix(name, "__secure-"):
		if !c.CookieSecure && ok("SESSION_COOKIE_SECURE") {
			needs = append(needs, "SESSION_COOKIE_SECURE=true")
		}
	}
	if len(needs) == 0 {
		return ""
	}
	return "browsers reject this prefix without " + strings.Join(needs, ", ") + ": change those, or the name"
}

// adoptedLegacy marks a request context whose session came from the legacy
// cookie.
type adoptedLegacy struct{}

// adoptLegacyCookie returns r as scs should see it: when r has the legacy
// cookie and not the session cookie, a copy that carries the legacy value
// under the session cookie's name. sawLegacy reports whether r had the
// legacy cookie at all, so that the response expires it.
func (k *Kit) adoptLegacyCookie(r *http.Request) (_ *http.Request, sawLegacy bool) {
	if k.legacyCookie == "" {
		return r, false
	}
	old, err := r.Cookie(k.legacyCookie)
	if err != nil {
		return r, false
	}
	if _, err := r.Cookie(k.Manager.Cookie.Name); err == nil || old.Value == "" {
		return r, true
	}
	r = r.WithContext(context.WithValue(r.Context(), adoptedLegacy{}, true))
	r.Header = r.Header.Clone()
	r.Header.Add("Cookie", (&http.Cookie{Name: k.Manager.Cookie.Name, Value: old.Value}).String())
	return r, true
}

// keepAdoptedSession wraps the handler inside scs's LoadAndSave: for a
// request whose session came from the legacy cookie, it marks the session
// modified before the handler runs, so that scs sets the new cookie even
// when the handler changes nothing.
func (k *Kit) keepAdoptedSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if ctx.Value(adoptedLegacy{}) != nil {
			// Putting a value back unchanged marks the session modified;
			// an empty session (the legacy token was unknown) has nothing
			// to keep.
			if keys := k.Manager.Keys(ctx); len(keys) > 0 {
				k.Manager.Put(ctx, keys[0], k.Manager.Get(ctx, keys[0]))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// expireLegacyCookie adds to h a cookie that deletes the legacy cookie,
// with the attributes it was set with.
func (k *Kit) expireLegacyCookie(h http.Header) {
	c := k.Manager.Cookie
	gone := &http.Cookie{Name: k.legacyCookie, Value: "", Path: c.Path, Domain: c.Domain, MaxAge: -1,
		Secure: c.Secure, HttpOnly: c.HttpOnly, SameSite: c.SameSite, Partitioned: c.Partitioned}
	h.Add("Set-Cookie", gone.String())
}
