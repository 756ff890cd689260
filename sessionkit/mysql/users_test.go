package mysql

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"
)

// userData encodes a session bound to user (none when empty).
func userData(t *testing.T, user string) []byte {
	t.Helper()
	values := map[string]any{"cart": 3}
	if user != "" {
		values[UserKey] = user
	}
	return encode(t, time.Now().Add(24*time.Hour), values)
}

func usersStore(t *testing.T, ddl ...string) (*Store, *sql.DB) {
	t.Helper()
	if len(ddl) == 0 {
		ddl = []string{usersTable}
	}
	s, db := newStore(t, ddl)
	t.Cleanup(func() { s.Close() })
	return s, db
}

func ids(list []Session) string {
	var s []string
	for _, x := range list {
		s = append(s, x.ID)
	}
	return strings.Join(s, " ")
}

// TestUserSessions lists, revokes one, and revokes all but one of a user's
// sessions, beside another user's and an anonymous one.
func TestUserSessions(t *testing.T) {
	t.Parallel()
	s, db := usersStore(t)
	expiry := time.Now().Add(time.Hour)
	laptop := WithRequest(context.Background(), &Request{IP: "192.0.2.1", UserAgent: "Laptop Browser/1.0"})
	phone := WithRequest(context.Background(), &Request{IP: "2001:db8::1", UserAgent: "Phone Browser/2.0"})
	a, b, c := tokenFor("ada", 1), tokenFor("ada", 2), tokenFor("ada", 3)
	bob, anon := tokenFor("bob", 1), tokenFor("anon", 1)
	for _, w := range []struct {
		ctx   context.Context
		token string
		user  string
	}{{laptop, a, "ada"}, {phone, b, "ada"}, {phone, c, "ada"}, {laptop, bob, "bob"}, {laptop, anon, ""}} {
		if err := s.CommitCtx(w.ctx, w.token, userData(t, w.user), expiry); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Sessions(context.Background(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("Sessions(ada) = %d sessions; want 3", len(list))
	}
	byID := map[string]Session{}
	for _, x := range list {
		byID[x.ID] = x
		if x.Created.IsZero() || x.LastSeen.IsZero() || time.Since(x.LastSeen) > time.Minute {
			t.Errorf("session %s: created %v, last seen %v", x.ID, x.Created, x.LastSeen)
		}
		if strings.Contains(x.ID, a) || x.ID == a || len(x.ID) < 16 {
			t.Errorf("session ID %q gives the token away or is too short", x.ID)
		}
	}
	if got := byID[SessionID(a)]; got.IP != "192.0.2.1" || got.UserAgent != "Laptop Browser/1.0" {
		t.Errorf("laptop session: %+v", got)
	}
	if got := byID[SessionID(b)]; got.IP != "2001:db8::1" || got.UserAgent != "Phone Browser/2.0" {
		t.Errorf("phone session: %+v", got)
	}
	var ip sql.NullString
	if err := db.QueryRow("SELECT ip FROM sessions WHERE token = ?", anon).Scan(&ip); err != nil || ip.Valid {
		t.Errorf("anonymous session: ip %v, %v; want nothing recorded", ip, err)
	}

	// Revoke: only a session of that user.
	if err := s.Revoke(context.Background(), "ada", SessionID(bob)); !errors.Is(err, ErrNoSession) {
		t.Errorf("Revoke of another user's session = %v; want ErrNoSession", err)
	}
	if _, found, _ := s.Find(bob); !found {
		t.Fatal("Revoke with another user's ID ended that session")
	}
	if err := s.Revoke(context.Background(), "ada", SessionID(b)); err != nil {
		t.Fatal(err)
	}
	mustNotFind(t, s, b)
	if err := s.Revoke(context.Background(), "ada", SessionID(b)); !errors.Is(err, ErrNoSession) {
		t.Errorf("Revoke of a revoked session = %v; want ErrNoSession", err)
	}

	// Everywhere else, then everywhere.
	if n, err := s.RevokeUser(context.Background(), "ada", a); err != nil || n != 1 {
		t.Fatalf("RevokeUser(ada, keep a) = %d, %v; want 1", n, err)
	}
	if list, _ := s.Sessions(context.Background(), "ada"); ids(list) != SessionID(a) {
		t.Fatalf("after RevokeUser, ada has %q; want only a", ids(list))
	}
	if n, err := s.RevokeUser(context.Background(), "ada", ""); err != nil || n != 1 {
		t.Fatalf("RevokeUser(ada) = %d, %v; want 1", n, err)
	}
	mustNotFind(t, s, a)
	if _, found, _ := s.Find(bob); !found {
		t.Error("another user's session was revoked")
	}
	if _, found, _ := s.Find(anon); !found {
		t.Error("an anonymous session was revoked")
	}
}

// TestUsersOnTablesWithoutTheColumns checks that the tables of scs's README
// and of the previous version keep working, that the user calls say how to
// add the columns, and that rows written before the columns existed do not
// break listing.
func TestUsersOnTablesWithoutTheColumns(t *testing.T) {
	t.Parallel()
	for _, def := range tableDefinitions[1:] {
		t.Run(def.name, func(t *testing.T) {
			t.Parallel()
			s, db := usersStore(t, def.ddl...)
			expiry := time.Now().Add(time.Hour)
			if err := s.Commit(tokenA, userData(t, "ada"), expiry); err != nil {
				t.Fatal(err)
			}
			if _, found, err := s.Find(tokenA); err != nil || !found {
				t.Fatalf("Find on a table without user columns = %v, %v", found, err)
			}
			_, err := s.Sessions(context.Background(), "ada")
			var missing *UsersMissingError
			if !errors.Is(err, ErrNoUsers) || !errors.As(err, &missing) || !strings.Contains(missing.AlterStatement, "ADD COLUMN user_id") {
				t.Fatalf("Sessions on a table without user columns = %v; want a *UsersMissingError", err)
			}
			if _, err := s.RevokeUser(context.Background(), "ada", ""); !errors.Is(err, ErrNoUsers) {
				t.Errorf("RevokeUser = %v; want ErrNoUsers", err)
			}
			if err := s.Revoke(context.Background(), "ada", "x"); !errors.Is(err, ErrNoUsers) {
				t.Errorf("Revoke = %v; want ErrNoUsers", err)
			}
			if _, err := db.Exec(missing.AlterStatement); err != nil {
				t.Fatalf("the ALTER TABLE it gave: %v", err)
			}
			after := NewWithCleanupInterval(db, 0) // as after a restart
			defer after.Close()
			if list, err := after.Sessions(context.Background(), "ada"); err != nil || len(list) != 0 {
				t.Fatalf("Sessions after the ALTER, with only older rows = %v, %v; want none", list, err)
			}
			if err := after.Commit(tokenA, userData(t, "ada"), expiry); err != nil {
				t.Fatal(err)
			}
			if list, err := after.Sessions(context.Background(), "ada"); err != nil || len(list) != 1 {
				t.Fatalf("Sessions after the next commit = %v, %v; want the one", list, err)
			}
		})
	}
}

// TestLastSeenAtMostOnceAMinute reads a user's session: last_seen is
// written when it is over a minute old, and not otherwise.
func TestLastSeenAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	s, db := usersStore(t)
	if err := s.Commit(tokenA, userData(t, "ada"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	set := func(ago string) {
		if _, err := db.Exec("UPDATE sessions SET last_seen = UTC_TIMESTAMP(6) - INTERVAL " + ago); err != nil {
			t.Fatal(err)
		}
	}
	seenAgo := func() time.Duration {
		list, err := s.Sessions(context.Background(), "ada")
		if err != nil || len(list) != 1 {
			t.Fatalf("Sessions = %v, %v", list, err)
		}
		return time.Since(list[0].LastSeen)
	}
	set("30 SECOND")
	ctx := WithRequest(context.Background(), &Request{IP: "192.0.2.9", UserAgent: strings.Repeat("x", 1000)})
	if _, _, err := s.FindCtx(ctx, tokenA); err != nil {
		t.Fatal(err)
	}
	if ago := seenAgo(); ago < 20*time.Second {
		t.Errorf("a read 30s after the last was written down (last seen %v ago)", ago)
	}
	set("2 MINUTE")
	if _, _, err := s.FindCtx(ctx, tokenA); err != nil {
		t.Fatal(err)
	}
	if ago := seenAgo(); ago > 10*time.Second {
		t.Errorf("a read 2 minutes after the last was not written down (last seen %v ago)", ago)
	}
	var agent string
	if err := db.QueryRow("SELECT user_agent FROM sessions").Scan(&agent); err != nil || len(agent) != maxUserAgent {
		t.Errorf("user agent stored with %d bytes, %v; want it cut to %d", len(agent), err, maxUserAgent)
	}
}

// TestCommitWritesLastSeenAtMostOnceAMinute commits a bound session again
// and again: last_seen is written when it is over a minute old, or when the
// user, the address or the user agent changes, and not otherwise.
func TestCommitWritesLastSeenAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	s, db := usersStore(t)
	expiry := time.Now().Add(time.Hour)
	laptop := &Request{IP: "192.0.2.1", UserAgent: "Laptop Browser/1.0"}
	commit := func(info *Request, user string) {
		t.Helper()
		fresh := &Request{IP: info.IP, UserAgent: info.UserAgent}
		if err := s.CommitCtx(WithRequest(context.Background(), fresh), tokenA, userData(t, user), expiry); err != nil {
			t.Fatal(err)
		}
	}
	setSeen := func(ago string) {
		t.Helper()
		if _, err := db.Exec("UPDATE sessions SET last_seen = UTC_TIMESTAMP(6) - INTERVAL " + ago + ", expiry = expiry"); err != nil {
			t.Fatal(err)
		}
	}
	seenAgo := func() (time.Duration, string, string) {
		t.Helper()
		var ago float64
		var ip, agent sql.NullString
		if err := db.QueryRow("SELECT TIMESTAMPDIFF(MICROSECOND, last_seen, UTC_TIMESTAMP(6)) / 1e6, ip, user_agent FROM sessions").Scan(&ago, &ip, &agent); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ago * float64(time.Second)), ip.String, agent.String
	}
	commit(laptop, "ada")
	for _, step := range []struct {
		name    string
		seen    string // last_seen before the commit, ago
		info    *Request
		user    string
		written bool
	}{
		{"nothing changed, seen 30s ago", "30 SECOND", laptop, "ada", false},
		{"no address or user agent given", "30 SECOND", &Request{}, "ada", false},
		{"seen 2 minutes ago", "2 MINUTE", laptop, "ada", true},
		{"another address", "30 SECOND", &Request{IP: "192.0.2.2", UserAgent: laptop.UserAgent}, "ada", true},
		{"another user agent", "30 SECOND", &Request{IP: "192.0.2.2", UserAgent: "Laptop Browser/1.1"}, "ada", true},
		{"another user", "30 SECOND", &Request{IP: "192.0.2.2", UserAgent: "Laptop Browser/1.1"}, "bob", true},
		{"a user differing by letter case", "30 SECOND", &Request{IP: "192.0.2.2", UserAgent: "Laptop Browser/1.1"}, "Bob", true},
	} {
		setSeen(step.seen)
		commit(step.info, step.user)
		ago, ip, agent := seenAgo()
		if written := ago < 10*time.Second; written != step.written {
			t.Errorf("%s: last seen %v ago; want it written: %v", step.name, ago, step.written)
		}
		if step.info.IP != "" && (ip != step.info.IP || agent != step.info.UserAgent) {
			t.Errorf("%s: ip %q, user agent %q; want %q, %q", step.name, ip, agent, step.info.IP, step.info.UserAgent)
		}
	}
	if list, err := s.Sessions(context.Background(), "Bob"); err != nil || len(list) != 1 {
		t.Errorf("Sessions(%q) = %v, %v; want the session", "Bob", list, err)
	}
}

// TestCheckUserID is the one rule for a user ID, which the store's calls
// and sessionkit's Login share.
func TestCheckUserID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string
		ok   bool
		says string
	}{
		{"ada", true, ""},
		{"42", true, ""},
		{"ädä ü", true, ""}, // spaces inside are kept apart by the collation
		{" ada", true, ""},  // only trailing spaces are ignored
		{strings.Repeat("x", 255), true, ""},
		{strings.Repeat("é", 127), true, ""}, // 254 bytes
		{"", false, "empty"},
		{strings.Repeat("x", 256), false, "256 bytes"},
		{strings.Repeat("é", 128), false, "256 bytes"},
		{"ada ", false, "ends in a space"},
		{"ada\xff", false, "not UTF-8"},
	} {
		err := CheckUserID(tc.id)
		if tc.ok != (err == nil) || (err != nil && (!errors.Is(err, ErrUserID) || !strings.Contains(err.Error(), tc.says))) {
			t.Errorf("CheckUserID(%q) = %v; want ok %v, or an ErrUserID saying %q", tc.id, err, tc.ok, tc.says)
		}
	}
}

// TestSessionOfAnInvalidUserIDIsBoundToNone commits sessions whose UserKey
// value breaks CheckUserID: each is saved, bound to no user, instead of
// failing the commit (a user ID that is not UTF-8 does not fit the utf8mb4
// column) or being recorded under an ID that the calls refuse.
func TestSessionOfAnInvalidUserIDIsBoundToNone(t *testing.T) {
	t.Parallel()
	s, db := usersStore(t)
	ctx := WithRequest(context.Background(), &Request{IP: "192.0.2.1", UserAgent: "Browser"})
	for i, id := range []string{"ada ", "ada\xff", strings.Repeat("x", 256)} {
		token := tokenFor("bad", i)
		if err := s.CommitCtx(ctx, token, userData(t, id), time.Now().Add(time.Hour)); err != nil {
			t.Errorf("Commit of a session bound to %q: %v", id, err)
			continue
		}
		var user, ip sql.NullString
		if err := db.QueryRow("SELECT user_id, ip FROM sessions WHERE token = ?", token).Scan(&user, &ip); err != nil {
			t.Fatal(err)
		}
		if user.Valid || ip.Valid {
			t.Errorf("session bound to %q stored with user_id %v, ip %v; want none recorded", id, user, ip)
		}
	}
	if list, err := s.Sessions(context.Background(), "ada"); err != nil || len(list) != 0 {
		t.Errorf("Sessions(ada) = %+v, %v; want none: no session was bound to ada", list, err)
	}
}
