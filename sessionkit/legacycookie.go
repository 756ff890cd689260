package sessionkit

import (
	"context"
	"net/http"
)

// A session cookie's name can change on upgrade: the default became
// "__Host-session" where it was "session". So that nobody is logged out by
// the change, the middleware adopts the session of a request that carries
// the old cookie (Kit.legacyCookie) and not the new one: it hands scs the
// old cookie's value under the new name, marks the session modified so that
// scs sets the new cookie (the store writes nothing for a session whose
// values did not change), and expires the old cookie in the same response.
// A request that carries both is served from the new one, and its old
// cookie is expired too.

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
