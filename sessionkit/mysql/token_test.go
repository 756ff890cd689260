package mysql

import (
	"strings"
	"testing"
	"time"
)

// TestFindIgnoresOtherCaseAndPadding uses the scs README table, whose token
// column takes the server's default, case-insensitive and space-padding
// collation: the server alone would match these variants.
func TestFindIgnoresOtherCaseAndPadding(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, []string{scsREADMETable})
	if err := s.Commit(tokenA, []byte("mine"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	variants := map[string]string{
		"upper case":      strings.ToUpper(tokenA),
		"lower case":      strings.ToLower(tokenA),
		"one letter":      "A" + tokenA[1:],
		"trailing spaces": tokenA + "  ",
	}
	for name, v := range variants {
		// The column's collation really does match the variant...
		if n := countRows(t, db, "token = '"+v+"'"); n != 1 {
			t.Fatalf("%s: the column's collation matches %d rows; the test needs a case-insensitive, padding collation", name, n)
		}
		// ...but the store does not.
		mustNotFind(t, s, v)
		if err := s.Delete(v); err != nil {
			t.Fatal(err)
		}
		mustFind(t, s, tokenA, "mine")
	}
}
