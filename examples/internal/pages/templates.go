package pages

import "html/template"

// templates are the site's pages. Each starts with "top": the title, the
// style, links between the pages, and a warning when the browser drops the
// session cookie. html/template escapes what visitors typed, such as a user
// name or a user agent.
var templates = template.Must(template.New("pages").Funcs(template.FuncMap{
	"device":  device,
	"ago":     ago,
	"justNow": func() string { return justNow },
}).Parse(`
{{define "top"}}<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · sessionkit example</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
nav { display: flex; gap: 1.25rem; padding-bottom: .5rem; border-bottom: 1px solid #ddd; }
.warning { background: #fff4ce; border: 1px solid #e4c45a; padding: .5rem .75rem; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .5rem; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
th, td + td { white-space: nowrap; }
button { font: inherit; padding: .2rem .8rem; }
.agent { color: #666; font-size: .8rem; overflow-wrap: anywhere; }
.this { color: #1a7f37; font-weight: 600; }
</style>
<nav><a href="/">Home</a><a href="/put">Put a message</a><a href="/get">Read it back</a>{{if .User}}<a href="/sessions">Your sessions</a>{{end}}</nav>
{{if .CookieDropped}}<p class="warning"><strong>This page came over plain HTTP, and the session cookie is Secure: your browser
drops it, so logging in will not stick. Serve HTTPS, or set SESSION_COOKIE_SECURE=false in development.</strong></p>
{{end}}<h1>{{.Title}}</h1>
{{end}}

{{define "home"}}{{template "top" .}}
<p>This server keeps its sessions in MySQL with sessionkit: every replica of it shares them, and they survive restarts.</p>
{{with .Data}}{{if .Session}}
<p>Visits in this session: {{.Visits}}. Each time this page is loaded, the count goes up by one and the session is saved.</p>
{{else}}
<p>No session yet: log in, or <a href="/put">put a message</a>, to start one. Until then this page stores nothing and sets no cookie.</p>
{{end}}{{end}}{{if .User}}
<p>Logged in as {{.User}}.</p>
<p><a href="/sessions">Your sessions</a> lists every browser logged in as {{.User}}, and ends the session of any of them.</p>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}
<p>Not logged in.</p>
<form method="post" action="/login"><label>Name <input name="user" required maxlength="100" autocomplete="username"></label> <button>Log in</button></form>
<p>Any name logs in here; a real application checks a password. Log in with the same name in a second browser, and both show up on your sessions page.</p>
{{end}}{{end}}

{{define "put"}}{{template "top" .}}{{with .Data}}{{if .Stored}}
<p>Stored <q>{{.Message}}</q> in your session, under the key <code>message</code>.</p>
<p><a href="/get">Read it back</a>, from this server or any other replica: the session is in the database.</p>
{{else}}
<p>This puts <q>{{.Message}}</q> into your session, under the key <code>message</code>, and starts a session if you have none.</p>
<form method="post" action="/put"><button>Put the message</button></form>
<p>It takes a button: pages change a session only on POST, and a POST from another site's page is refused, so a link cannot do it for you.</p>
{{end}}{{end}}{{end}}

{{define "get"}}{{template "top" .}}{{with .Data}}
<p>Your session holds the message <strong id="message">{{.}}</strong></p>
{{else}}
<p>Your session holds no message. <a href="/put">Put one</a>.</p>
{{end}}{{end}}

{{define "sessions"}}{{template "top" .}}{{if not .User}}
<p>Not logged in. <a href="/">Log in</a> to see the browsers where you are logged in.</p>
{{else}}{{with .Data}}
<p>These are the browsers logged in as {{$.User}}. End the session of any you do not recognise: that browser is logged out on its next request, whichever server it reaches.</p>
<table>
<thead><tr><th>Device</th><th>IP address</th><th>Logged in</th><th>Last seen</th><th></th></tr></thead>
<tbody>{{range .Sessions}}
<tr>
<td>{{device .UserAgent}}<div class="agent">{{.UserAgent}}</div></td>
<td>{{or .IP "not recorded"}}</td>
<td>{{ago .Created}}</td>
<td>{{if .Current}}{{justNow}}{{else}}{{ago .LastSeen}}{{end}}</td>
<td>{{if .Current}}<span class="this">This device</span>{{else}}<form method="post" action="/sessions/revoke"><input type="hidden" name="id" value="{{.ID}}"><button>End session</button></form>{{end}}</td>
</tr>{{end}}
</tbody>
</table>
{{if .Others}}<form method="post" action="/sessions/revoke-others"><button>Log out everywhere else</button></form>
<p>Ends every session of yours but this one, after a lost phone or a changed password.</p>
{{else}}<p>This is your only session. Log in as {{$.User}} in another browser, and it shows up here.</p>
{{end}}{{end}}{{end}}{{end}}
`))
