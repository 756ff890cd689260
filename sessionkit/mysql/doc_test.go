package mysql

import (
	"database/sql"
	"os"
	"strings"
	"testing"
)

// TestPackageDocShowsTheTableCreateTableMakes keeps the package docs true:
// the CREATE TABLE they show is the one CreateTable runs, column for
// column, so that they cannot go on showing a table of fewer columns.
func TestPackageDocShowsTheTableCreateTableMakes(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", "app@tcp(127.0.0.1:1)/app") // never connects
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewWithCleanupInterval(db, 0)
	defer s.Close()
	var shown strings.Builder
	for line := range strings.SplitSeq(s.CreateTableStatement(), "\n") {
		shown.WriteString("//\t" + line + "\n")
	}
	if !strings.Contains(string(doc), "\n"+shown.String()) {
		t.Errorf("doc.go does not show the table CreateTable makes; it should show:\n%s", shown.String())
	}
}
