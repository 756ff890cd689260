package mysql

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/mysqlstore"
)

// TestDropInForSCSMySQLStore checks that rows written by scs's mysqlstore are
// read by this store and the other way round, on both tables.
func TestDropInForSCSMySQLStore(t *testing.T) {
	for _, def := range tableDefinitions {
		t.Run(def.name, func(t *testing.T) {
			t.Parallel()
			ours, db := newStore(t, def.ddl)
			theirs := mysqlstore.NewWithCleanupInterval(db, 0)

			expiry := time.Now().Add(time.Hour)
			if err := theirs.Commit(tokenA, []byte("from scs"), expiry); err != nil {
				t.Fatal(err)
			}
			mustFind(t, ours, tokenA, "from scs")

			if err := ours.Commit(tokenB, []byte("from sessionkit"), expiry); err != nil {
				t.Fatal(err)
			}
			b, found, err := theirs.Find(tokenB)
			if err != nil || !found || string(b) != "from sessionkit" {
				t.Fatalf("scs mysqlstore Find = %q, %v, %v; want the session this store wrote", b, found, err)
			}

			// Expired rows written by one are expired for the other.
			if err := theirs.Commit(tokenA, []byte("old"), time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			mustNotFind(t, ours, tokenA)
			if err := ours.Commit(tokenB, []byte("old"), time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, found, err := theirs.Find(tokenB); err != nil || found {
				t.Fatalf("scs mysqlstore found a session this store wrote as expired (err %v)", err)
			}

			// What one deletes, the other no longer finds.
			if err := theirs.Commit(tokenA, []byte("live"), expiry); err != nil {
				t.Fatal(err)
			}
			if err := ours.Delete(tokenA); err != nil {
				t.Fatal(err)
			}
			if _, found, _ := theirs.Find(tokenA); found {
				t.Fatal("scs mysqlstore still finds a session this store deleted")
			}
		})
	}
}
