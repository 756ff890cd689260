package sessionkit_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"

	"sessionkit.dev/internal/mysqltest"
	"sessionkit.dev/sessionkit"
	sessionmysql "sessionkit.dev/sessionkit/mysql"
)

// codeVariables returns each variable of sessionkit.Config with its
// default, from the struct tags LoadConfig uses.
func codeVariables(t *testing.T) map[string]string {
	t.Helper()
	params, err := env.GetFieldParamsWithOptions(&sessionkit.Config{}, env.Options{Environment: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, p := range params {
		if p.OwnKey != "-" {
			vars[p.Key] = p.DefaultValue
		}
	}
	return vars
}

var readmeRow = regexp.MustCompile("^\\| `(SESSION_[A-Z_]+)` \\| ([^|]*) \\|")

// TestREADMEEnvTable fails when the README's table of variables and the
// code disagree on a variable or its default.
func TestREADMEEnvTable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{}
	for line := range strings.SplitSeq(string(readme), "\n") {
		m := readmeRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := documented[m[1]]; dup {
			t.Errorf("README lists %s twice", m[1])
		}
		documented[m[1]] = readmeDefault(m[2])
	}
	code := codeVariables(t)
	for name, def := range code {
		got, ok := documented[name]
		if !ok {
			t.Errorf("README's table lacks %s (default %q)", name, def)
		} else if got != def {
			t.Errorf("README says %s defaults to %q, the code to %q", name, got, def)
		}
	}
	for name := range documented {
		if _, ok := code[name]; !ok {
			t.Errorf("README documents %s, which the code does not read", name)
		}
	}
}

// readmeDefault reads a default cell: "`24h`", "`0` (off)", "empty", or
// "required ..." (no default).
func readmeDefault(cell string) string {
	cell = strings.TrimSpace(cell)
	if strings.HasPrefix(cell, "`") {
		v, _, _ := strings.Cut(cell[1:], "`")
		return v
	}
	return "" // "empty", "required unless ..."
}

// TestPackageDocListsEveryVariable keeps the list in the package doc in
// step with the code too.
func TestPackageDocListsEveryVariable(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^//\t(SESSION_[A-Z_]+) `).FindAllStringSubmatch(string(doc), -1) {
		listed = append(listed, m[1])
	}
	var want []string
	for name := range codeVariables(t) {
		want = append(want, name)
	}
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("doc.go lists %v\nthe code reads %v", listed, want)
	}
}

// TestREADMEErrorExample checks the error message the README shows.
func TestREADMEErrorExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, err = sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_LIFETIME": "-5m",
		"SESSION_COOKIE_SAME_SITE": "none", "SESSION_COOKIE_SECURE": "false"})
	if err == nil || !strings.Contains(string(readme), "\n"+err.Error()+"\n") {
		t.Errorf("README does not show the error as it is:\n%v", err)
	}
}

// TestDocsSchemaStatements checks that docs/database.md shows the CREATE
// TABLE and the ALTER TABLE as the store makes them.
func TestDocsSchemaStatements(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("../docs/database.md")
	if err != nil {
		t.Fatal(err)
	}
	db := mysqltest.DB(t)
	if _, err := db.Exec("CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	store := sessionmysql.NewWithCleanupInterval(db, 0)
	defer store.Close()
	var missing *sessionmysql.UsersMissingError
	if err := store.CheckUsers(context.Background()); !errors.As(err, &missing) {
		t.Fatalf("CheckUsers on scs's table = %v; want a *mysql.UsersMissingError", err)
	}
	for _, stmt := range []string{store.CreateTableStatement(), missing.AlterStatement} {
		if !strings.Contains(string(page), "\n"+stmt+"\n") {
			t.Errorf("docs/database.md does not show the statement as the store makes it:\n%s", stmt)
		}
	}
}
