package pages

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"sessionkit.dev/sessionkit"
)

// Sessions lists the sessions of the logged-in user, one per browser, this
// one first and marked, each other one with a button that ends it.
func (p *Pages) Sessions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := view{Title: "Your sessions"}
	user := p.kit.UserID(ctx)
	if user == "" { // Sessions refuses an empty user ID: the page says to log in
		p.render(w, r, "sessions", v)
		return
	}
	list, err := p.kit.Sessions(ctx, user)
	if err != nil {
		ServerError(w, r, err)
		return
	}
	// This device first, then the others as Sessions orders them, most
	// recently seen first.
	slices.SortStableFunc(list, func(a, b sessionkit.Session) int {
		switch {
		case a.Current == b.Current:
			return 0
		case a.Current:
			return -1
		}
		return 1
	})
	others := 0
	for _, s := range list {
		if !s.Current {
			others++
		}
	}
	v.Data = struct {
		Sessions []sessionkit.Session
		Others   int
	}{list, others}
	p.render(w, r, "sessions", v)
}

// Revoke ends one of the user's other sessions (form field id): that
// browser has no session on its next request, whichever replica it
// reaches. An ID that is not one of the user's sessions (another user's, or
// one that has ended) changes nothing.
func (p *Pages) Revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if user := p.kit.UserID(ctx); user != "" {
		err := p.kit.Revoke(ctx, user, r.PostFormValue("id"))
		if err != nil && !errors.Is(err, sessionkit.ErrNoSession) {
			ServerError(w, r, err)
			return
		}
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// RevokeOthers ends every session of the user but this one: "log out
// everywhere else", after a lost phone or a changed password.
func (p *Pages) RevokeOthers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if p.kit.UserID(ctx) != "" {
		n, err := p.kit.RevokeOthers(ctx)
		if err != nil {
			ServerError(w, r, err)
			return
		}
		slog.InfoContext(ctx, "ended the user's other sessions", "sessions", n)
	}
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

// justNow is what the sessions page says of a moment less than a minute
// ago, and of this device, which is being seen now: one wording for both.
const justNow = "just now"

// ago says roughly how long before now t was, for people: "3 minutes ago".
func ago(t time.Time) string {
	d := time.Since(t)
	count := func(n time.Duration, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case t.IsZero():
		return "unknown"
	case d < time.Minute:
		return justNow
	case d < time.Hour:
		return count(d/time.Minute, "minute")
	case d < 48*time.Hour:
		return count(d/time.Hour, "hour")
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}
