// Package pages is the demonstration site that examples/chi and
// examples/nethttp both serve: the layout and its style, the templates, the
// home page's visit counter, the sessions page with the forms that end
// sessions, and the name of a device told by its user agent. The examples'
// main.go files hold the wiring that a service copies; this package is what
// a service replaces with pages of its own.
//
// The routes, as the examples mount them behind cross-origin protection
// and the session middleware. Pages only read the session, but for the
// visit counter of a session that exists; what a user does is a POST:
//
//	GET  /            Home: visit counter, who is logged in, the form to log in or out
//	GET  /put         PutForm: what POST /put does, with its button
//	POST /put         the example's handler stores Message, then Stored says so
//	GET  /get         the example's handler reads the message, then Message shows it
//	POST /login       the example's handler (kit.Login)
//	POST /logout      the example's handler (kit.Manager.Destroy)
//	GET  /sessions    Sessions: the browsers logged in as this user, this one marked
//	POST /sessions/revoke         Revoke: form field id, ends that session
//	POST /sessions/revoke-others  RevokeOthers: ends every session of the user but this one
package pages

import (
	"bytes"
	"log/slog"
	"net/http"

	"sessionkit.dev/sessionkit"
)

// Message is what POST /put stores under the key "message", as in scs's
// README.
const Message = "Hello from a session!"

// Pages renders the site for the sessions of one kit.
type Pages struct {
	kit *sessionkit.Kit
}

// New returns the pages of kit's sessions.
func New(kit *sessionkit.Kit) *Pages {
	return &Pages{kit: kit}
}

// view is what a page template gets: what every page shows, and the page's
// own data.
type view struct {
	Title         string
	User          string // the logged-in user, or ""
	CookieDropped bool   // the browser drops the session cookie (see Kit.SecureCookieOverHTTP)
	Data          any
}

// render writes a page. It renders the whole page before sending any of
// it, so that a template error is a plain 500.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, page string, v view) {
	v.User = p.kit.UserID(r.Context())
	v.CookieDropped = p.kit.SecureCookieOverHTTP(r)
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, page, v); err != nil {
		ServerError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	buf.WriteTo(w)
}

// Home shows the visit count, who is logged in, and the form to log in or
// out. On GET it first counts the visit, but only of a session that exists:
// a visitor without one (a first visit, a crawler, a health check, curl)
// is shown the page and nothing is written, where a Put here would store a
// row for every such request, kept for SESSION_LIFETIME. HEAD asks about
// the page without visiting it, and counts nothing.
func (p *Pages) Home(w http.ResponseWriter, r *http.Request) {
	ctx, sessions := r.Context(), p.kit.Manager
	exists := sessions.Token(ctx) != "" // a session was loaded from the cookie
	if exists && r.Method == http.MethodGet {
		sessions.Put(ctx, "visits", sessions.GetInt(ctx, "visits")+1)
	}
	p.render(w, r, "home", view{Title: "Home", Data: struct {
		Session bool
		Visits  int
	}{exists, sessions.GetInt(ctx, "visits")}})
}

// PutForm explains POST /put and shows its button. It changes nothing: a
// link, a crawler, or another site that sends a browser here (with its
// cookie, as SameSite=Lax allows for a top-level GET) writes nothing.
func (p *Pages) PutForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, "put", view{Title: "Put a message", Data: struct {
		Message string
		Stored  bool
	}{Message, false}})
}

// Stored says that Message is now in the session: the answer to POST /put.
func (p *Pages) Stored(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, "put", view{Title: "Message stored", Data: struct {
		Message string
		Stored  bool
	}{Message, true}})
}

// Message shows the message the session holds, "" for none: the answer to
// GET /get.
func (p *Pages) Message(w http.ResponseWriter, r *http.Request, message string) {
	p.render(w, r, "get", view{Title: "Read it back", Data: message})
}

// ServerError logs err and answers a plain 500, which shows the visitor
// nothing of it.
func ServerError(w http.ResponseWriter, r *http.Request, err error) {
	slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
