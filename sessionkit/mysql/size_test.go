package mysql

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestCommitRefusesOversizedData checks, for a BLOB and a MEDIUMBLOB column,
// in strict mode and with sql_mode=” (where the server would truncate
// silently), that data one byte over the capacity is refused with ErrTooLarge
// and leaves the stored session as it was, and that data of exactly the
// capacity round-trips.
func TestCommitRefusesOversizedData(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ddl      []string
		capacity int
	}{
		{"BLOB", []string{scsREADMETable}, 65535},
		{"MEDIUMBLOB", []string{recommendedTable}, 16<<20 - 1},
	} {
		for _, mode := range []string{"strict", "sql_mode=''"} {
			t.Run(tc.name+" "+mode, func(t *testing.T) {
				t.Parallel()
				var opts []mysqltest.Option
				if mode != "strict" {
					opts = append(opts, mysqltest.Param("sql_mode", "''"))
				}
				s, _ := newStore(t, tc.ddl, opts...)
				expiry := time.Now().Add(time.Hour)
				if err := s.Commit(tokenA, []byte("before"), expiry); err != nil {
					t.Fatal(err)
				}

				over := bytes.Repeat([]byte{0xA5}, tc.capacity+1)
				err := s.Commit(tokenA, over, expiry)
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Commit of %d bytes: %v; want ErrTooLarge", len(over), err)
				}
				for _, size := range []int{tc.capacity + 1, tc.capacity} {
					if !strings.Contains(err.Error(), fmt.Sprint(size)) {
						t.Errorf("error %q does not name the size %d", err, size)
					}
				}
				mustFind(t, s, tokenA, "before")

				exact := make([]byte, tc.capacity)
				for i := range exact {
					exact[i] = byte(i * 7)
				}
				if err := s.Commit(tokenA, exact, expiry); err != nil {
					t.Fatalf("Commit of exactly %d bytes: %v", tc.capacity, err)
				}
				b, found, err := s.Find(tokenA)
				if err != nil || !found || !bytes.Equal(b, exact) {
					t.Fatalf("data of exactly the capacity: found %v, err %v, %d bytes back, equal %v", found, err, len(b), bytes.Equal(b, exact))
				}
			})
		}
	}
}

// TestCommitSeesWidenedColumn checks that a column widened while the store
// runs is noticed without a restart.
func TestCommitSeesWidenedColumn(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, []string{scsREADMETable})
	big := make([]byte, 70000)
	if err := s.Commit(tokenA, big, time.Now().Add(time.Hour)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Commit of 70000 bytes into a BLOB: %v; want ErrTooLarge", err)
	}
	if _, err := db.Exec("ALTER TABLE sessions MODIFY data MEDIUMBLOB NOT NULL"); err != nil {
		t.Fatal(err)
	}
	s.capacity.mu.Lock()
	s.capacity.read = time.Now().Add(-2 * capacityRecheck) // as if a minute had passed
	s.capacity.mu.Unlock()
	if err := s.Commit(tokenA, big, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Commit after widening the column: %v", err)
	}
}
