package sessionkit_test

import (
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"

	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// TestBoundUserFollowsTheHandler: sessions of many shapes (the values the
// save fuzzer builds: strings, numbers, structs, maps, slices, pointers,
// interfaces, keys that contain UserKey) are saved through the kit, then a
// request changes each as a handler might: in place without Put (saved by
// the idle timeout's commit), in place and put back, another value, a key
// removed, the user changed or removed. The user_id column always names
// the user the saved session holds, and the saved session holds what the
// handler left.
func TestBoundUserFollowsTheHandler(t *testing.T) {
	t.Parallel()
	env := mysqlEnv(t, map[string]string{"SESSION_IDLE_TIMEOUT": "20m"})
	kit, _ := startKit(t, env)
	m := kit.Manager
	rng := rand.New(rand.NewPCG(1, 2))
	var seed map[string]any
	var change func(r *http.Request)
	routes := map[string]http.HandlerFunc{
		"/seed": func(w http.ResponseWriter, r *http.Request) {
			for k, v := range seed {
				m.Put(r.Context(), k, v)
			}
			io.WriteString(w, "ok")
		},
		"/change": func(w http.ResponseWriter, r *http.Request) {
			change(r)
			io.WriteString(w, "ok")
		},
		"/user": func(w http.ResponseWriter, r *http.Request) {
			user, _ := m.Get(r.Context(), sessionmysql.UserKey).(string)
			io.WriteString(w, user)
		},
	}
	srv, _ := serve(t, handlerFor(t, kit, "chi", routes))
	db, err := sql.Open("mysql", env["SESSION_MYSQL_DSN"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	changes := []struct {
		name string
		do   func(r *http.Request, key string)
	}{
		{"in place, no Put", func(r *http.Request, key string) { sessionkit.ChangeInPlace(m.Get(r.Context(), key)) }},
		{"in place and put back", func(r *http.Request, key string) {
			v := m.Get(r.Context(), key)
			sessionkit.ChangeInPlace(v)
			m.Put(r.Context(), key, v)
		}},
		{"another value", func(r *http.Request, key string) {
			m.Put(r.Context(), key, fmt.Sprint("other ", m.Get(r.Context(), key)))
		}},
		{"key removed", func(r *http.Request, key string) { m.Remove(r.Context(), key) }},
		{"user changed", func(r *http.Request, _ string) { m.Put(r.Context(), sessionmysql.UserKey, "grace") }},
		{"user removed", func(r *http.Request, _ string) { m.Remove(r.Context(), sessionmysql.UserKey) }},
		{"nothing", func(*http.Request, string) {}},
	}
	for i := range 60 {
		input := make([]byte, 64)
		for j := range input {
			input[j] = byte(rng.IntN(256))
		}
		seed = sessionkit.MadeSession(input)
		c := changes[i%len(changes)]
		client := device(t, srv)
		mustGet(t, client, srv, "/seed", "ok")
		var keys []string
		for k := range seed {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		change = func(r *http.Request) {
			key := sessionmysql.UserKey
			if len(keys) > 0 {
				key = keys[i%len(keys)]
			}
			c.do(r, key)
		}
		mustGet(t, client, srv, "/change", "ok")
		_, want := get(t, client, srv, "/user")
		if sessionmysql.CheckUserID(want) != nil {
			want = ""
		}
		token := cookieValue(t, client, srv, m.Cookie.Name)
		if m.HashTokenInStore {
			token = sessionmysql.HashToken(token)
		}
		var got sql.NullString
		if err := db.QueryRow("SELECT user_id FROM sessions WHERE token = ?", token).Scan(&got); err == sql.ErrNoRows && want == "" {
			continue // an empty session, never saved
		} else if err != nil {
			t.Fatalf("session %d (%s): %v", i, c.name, err)
		}
		if got.String != want {
			t.Errorf("session %d, %s: user_id %q, but the session holds user %q; values %#v", i, c.name, got.String, want, seed)
		}
	}
}
