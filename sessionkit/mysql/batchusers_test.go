package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestBatchedUpdateKeepsEachRowsUserColumns: requests that found sessions
// bound to users commit them at once, with MaxInflight 1 so that the store
// writes them as batched UPDATEs of one value per token, while a third of
// the sessions were revoked after they were read. Each row that is still
// there holds its own request's data, user, address and user agent (a
// session logged out by its request holds none), its last_seen moved, and
// the revoked ones stay gone.
func TestBatchedUpdateKeepsEachRowsUserColumns(t *testing.T) {
	t.Parallel()
	s, db := batchingStore(t, []string{usersTable})
	const sessions = 50
	expiry := time.Now().Add(time.Hour).Truncate(time.Second)
	ctxs := make([]context.Context, sessions)
	for i := range sessions {
		token := tokenFor("u", i)
		first := WithRequest(context.Background(), &Request{IP: "198.51.100.1", UserAgent: "first"})
		data := encode(t, expiry, map[string]any{UserKey: fmt.Sprint("user-", i)})
		if err := s.CommitCtx(first, token, data, expiry); err != nil {
			t.Fatal(err)
		}
		ctxs[i] = WithRequest(context.Background(), &Request{IP: fmt.Sprint("192.0.2.", i), UserAgent: fmt.Sprint("agent ", i)})
		if _, found, err := s.FindCtx(ctxs[i], token); err != nil || !found {
			t.Fatalf("Find %s: %v %v", token, found, err)
		}
	}
	// last_seen an hour back, so that every write that keeps the user
	// must move it.
	if _, err := db.Exec("UPDATE sessions SET last_seen = UTC_TIMESTAMP(6) - INTERVAL 1 HOUR"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < sessions; i += 3 {
		if _, err := s.RevokeUser(context.Background(), fmt.Sprint("user-", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	// What each request writes: most keep their user, some move to another
	// user, some log out.
	user := func(i int) string {
		switch i % 5 {
		case 1:
			return fmt.Sprint("other-", i)
		case 4:
			return ""
		}
		return fmt.Sprint("user-", i)
	}
	datas := make([][]byte, sessions)
	for i := range sessions {
		values := map[string]any{"n": i}
		if u := user(i); u != "" {
			values[UserKey] = u
		}
		datas[i] = encode(t, expiry.Add(time.Minute), values)
	}
	_, statementsBefore := s.writes.counts()
	var wg sync.WaitGroup
	errs := make([]error, sessions)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CommitCtx(ctxs[i], tokenFor("u", i), datas[i], expiry.Add(time.Minute))
		}()
	}
	wg.Wait()
	_, statementsAfter := s.writes.counts()
	t.Logf("%d statements for %d commits", statementsAfter-statementsBefore, sessions)
	for i := range sessions {
		if errs[i] != nil {
			t.Fatalf("Commit %d: %v", i, errs[i])
		}
		var data []byte
		var userID, ip, agent sql.NullString
		var stale bool
		err := db.QueryRow("SELECT data, user_id, ip, user_agent, last_seen < UTC_TIMESTAMP(6) - INTERVAL 30 MINUTE FROM sessions WHERE token = ?",
			tokenFor("u", i)).Scan(&data, &userID, &ip, &agent, &stale)
		ended := SessionEnded(ctxs[i])
		if i%3 == 0 {
			if err != sql.ErrNoRows || !ended {
				t.Errorf("revoked session %d: read %v, ended %v; want gone and ended", i, err, ended)
			}
			continue
		}
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if ended {
			t.Errorf("session %d reported ended", i)
		}
		if string(data) != string(datas[i]) {
			t.Errorf("session %d holds another request's data", i)
		}
		if u := user(i); u == "" {
			if userID.Valid || ip.Valid || agent.Valid {
				t.Errorf("logged-out session %d: user %v, ip %v, agent %v; want all NULL", i, userID, ip, agent)
			}
			continue
		}
		if userID.String != user(i) || ip.String != fmt.Sprint("192.0.2.", i) || agent.String != fmt.Sprint("agent ", i) {
			t.Errorf("session %d: user %q, ip %q, agent %q; want %q, 192.0.2.%d, agent %d", i, userID.String, ip.String, agent.String, user(i), i, i)
		}
		if stale {
			t.Errorf("session %d: last_seen not moved", i)
		}
	}
}
