package main

import (
	"testing"
	"time"

	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

func TestUpgradeTokensRefusesWithoutTheSwitches(t *testing.T) {
	t.Parallel()
	env, db := database(t)
	runCommand(t, env, "create-table").want(t, 0, nil, nil)
	insert(t, db, token("plain", 1), 1, time.Hour, "")

	r := runCommand(t, env, "upgrade-tokens")
	r.want(t, 2, nil, []string{"refusing to run", "SESSION_HASH_TOKEN=true and SESSION_UPGRADE_PLAIN_TOKENS=true",
		"every replica", "hash a second time"})
	env["SESSION_UPGRADE_PLAIN_TOKENS"] = "true"
	env["SESSION_HASH_TOKEN"] = "false"
	r = runCommand(t, env, "upgrade-tokens")
	r.want(t, 2, nil, []string{"SESSION_UPGRADE_PLAIN_TOKENS"})
	if n := count(t, db, "token = ?", token("plain", 1)); n != 1 {
		t.Errorf("a refused upgrade-tokens changed the table")
	}
}

func TestUpgradeTokensHashesPlainTokens(t *testing.T) {
	t.Parallel()
	env, db := database(t)
	runCommand(t, env, "create-table").want(t, 0, nil, nil)
	const n = 25
	for i := range n {
		insert(t, db, token("plain", i), 10, time.Hour, "")
	}
	env["SESSION_HASH_TOKEN"] = "true"
	env["SESSION_UPGRADE_PLAIN_TOKENS"] = "true"
	// On a table nobody marked as one of plain tokens, it moves nothing and
	// shows how to mark it.
	r := runCommand(t, env, "upgrade-tokens")
	r.want(t, 1, nil, []string{"not marked as a table of plain tokens",
		"ALTER TABLE `sessions` COMMENT = '" + sessionmysql.PlainTokensComment + "';"})
	if got := count(t, db, "token = ?", token("plain", 0)); got != 1 {
		t.Fatal("upgrade-tokens moved a row on an unmarked table")
	}
	if _, err := db.Exec("ALTER TABLE sessions COMMENT = '" + sessionmysql.PlainTokensComment + "'"); err != nil {
		t.Fatal(err)
	}
	r = runCommand(t, env, "upgrade-tokens", "-batch", "10")
	r.want(t, 0, []string{"moved 25 sessions of `sessions` from a plain token to its hash in 3 batches in "},
		[]string{"UpgradeTokens done", "upgraded=25", "hash_already_stored=0"})
	for i := range n {
		plain := token("plain", i)
		if count(t, db, "token = ?", plain) != 0 || count(t, db, "token = ?", sessionmysql.HashToken(plain)) != 1 {
			t.Fatalf("session %d is not stored under the hash of its token", i)
		}
	}
	// The moved rows are marked as hashed: a second run moves none.
	r = runCommand(t, env, "upgrade-tokens")
	r.want(t, 0, []string{"moved 0 sessions"}, nil)
	if got := count(t, db, "TRUE"); got != n {
		t.Errorf("%d rows after two runs, want %d", got, n)
	}
}
