package mysql_test

import (
	"context"
	"database/sql"
	"log"
	"time"

	"github.com/alexedwards/scs/v2"

	"sessionkit.dev/sessionkit/mysql"
)

// New is the drop-in replacement for scs's mysqlstore.New.
func ExampleNew() {
	db, err := sql.Open("mysql", "app:secret@tcp(127.0.0.1:3306)/app?parseTime=true")
	if err != nil {
		log.Fatal(err)
	}
	store := mysql.New(db)
	defer store.StopCleanup()

	sessionManager := scs.New()
	sessionManager.Store = store
	sessionManager.Lifetime = 24 * time.Hour
}

// NewWithConfig names the table, tunes cleanup and bounds every query.
func ExampleNewWithConfig() {
	db, err := sql.Open("mysql", "app:secret@tcp(127.0.0.1:3306)/app")
	if err != nil {
		log.Fatal(err)
	}
	cfg := mysql.DefaultConfig()
	cfg.Table = "app.web_sessions"
	cfg.CleanupInterval = 10 * time.Minute
	cfg.CleanupBatchSize = 500
	cfg.QueryTimeout = 5 * time.Second
	store, err := mysql.NewWithConfig(db, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	if err := store.CreateTable(ctx); err != nil {
		log.Fatal(err)
	}
	if err := store.CheckSchema(ctx); err != nil {
		log.Fatal(err)
	}
}
