package mysql_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"log"
	"os"
	"strings"

	"github.com/alexedwards/scs/v2"

	"sessionkit.dev/sessionkit/mysql"
)

// EncryptionKeys encrypts session data at rest; with HashedTokens and
// UpgradePlainTokens, sessions stored under plain tokens (by scs's
// mysqlstore) are moved to their hashes on first use, when the request's
// context carries the cookie's value (Request.PlainToken), on a table the
// operator has marked as one of plain tokens (PlainTokensComment; run
// CheckSchema at start-up to fail early on any other).
func ExampleConfig_encryptionAndUpgrade() {
	db, err := sql.Open("mysql", "app:secret@tcp(127.0.0.1:3306)/app")
	if err != nil {
		log.Fatal(err)
	}
	cfg := mysql.DefaultConfig()
	// APP_SESSION_KEYS holds base64 keys, newest first: "new,old".
	for _, k := range strings.Split(os.Getenv("APP_SESSION_KEYS"), ",") {
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			log.Fatal("APP_SESSION_KEYS: a key is not base64")
		}
		cfg.EncryptionKeys = append(cfg.EncryptionKeys, key)
	}
	cfg.HashedTokens = true
	cfg.UpgradePlainTokens = true
	store, err := mysql.NewWithConfig(db, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if err := store.CheckSchema(context.Background()); err != nil {
		log.Fatal(err) // says how to mark the table
	}

	sessionManager := scs.New()
	sessionManager.Store = store
	sessionManager.HashTokenInStore = true
}

// UpgradeTokens moves every remaining session stored under a plain token to
// its hash, in batches, while the service runs (once every replica runs
// with UpgradePlainTokens).
func ExampleStore_UpgradeTokens() {
	db, err := sql.Open("mysql", "app:secret@tcp(127.0.0.1:3306)/app")
	if err != nil {
		log.Fatal(err)
	}
	cfg := mysql.DefaultConfig()
	cfg.CleanupInterval = 0
	cfg.HashedTokens = true
	cfg.UpgradePlainTokens = true
	store, err := mysql.NewWithConfig(db, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	n, err := store.UpgradeTokens(context.Background(), 1000, func(done int64) {
		log.Printf("%d sessions upgraded so far", done)
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d sessions upgraded", n)
}
