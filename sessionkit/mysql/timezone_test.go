package mysql

import (
	"database/sql"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// checkExpiry commits a session expiring at T, a little ahead, and checks
// that the column holds T in UTC to the microsecond, that Find finds it
// before T and does not after it. The exact stored value is what proves
// microsecond precision; the Find calls prove the comparison uses the same
// clock, with margins wide enough for a loaded machine.
func checkExpiry(t *testing.T, s *Store, db *sql.DB) {
	t.Helper()
	T := time.Now().Add(2 * time.Second).Truncate(time.Microsecond)
	if err := s.Commit(tokenA, []byte("tz"), T); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := db.QueryRow("SELECT DATE_FORMAT(expiry, '%Y-%m-%d %H:%i:%s.%f') FROM sessions").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := T.UTC().Format("2006-01-02 15:04:05.000000"); stored != want {
		t.Errorf("expiry column holds %s; want %s (UTC)", stored, want)
	}
	_, found, err := s.Find(tokenA)
	if left := time.Until(T); left > 0 && (err != nil || !found) {
		t.Fatalf("%v before expiry: found %v, err %v; want found", left, found, err)
	}
	time.Sleep(time.Until(T.Add(50 * time.Millisecond)))
	if _, found, err := s.Find(tokenA); err != nil || found {
		t.Fatalf("50ms after expiry: found %v, err %v; want not found", found, err)
	}
}

// TestExpiryUnderServerTimeZones runs servers whose default time zone is not
// UTC: DATETIME columns are right under the server's zone as the session
// zone; TIMESTAMP columns under a UTC session time zone.
func TestExpiryUnderServerTimeZones(t *testing.T) {
	for _, tz := range []string{"+05:30", "-08:00", "Europe/Berlin"} {
		t.Run(tz, func(t *testing.T) {
			t.Parallel()
			t.Run("DATETIME", func(t *testing.T) {
				t.Parallel()
				s, db := newStore(t, []string{recommendedTable}, mysqltest.TimeZone(tz))
				assertSessionZone(t, db, tz)
				checkExpiry(t, s, db)
			})
			t.Run("TIMESTAMP under UTC session", func(t *testing.T) {
				t.Parallel()
				s, db := newStore(t, []string{scsREADMETable}, mysqltest.TimeZone(tz), mysqltest.Param("time_zone", "'%2B00:00'"))
				assertSessionZone(t, db, "+00:00")
				checkExpiry(t, s, db)
			})
		})
	}
}

func assertSessionZone(t *testing.T, db *sql.DB, want string) {
	t.Helper()
	var zone string
	if err := db.QueryRow("SELECT @@session.time_zone").Scan(&zone); err != nil {
		t.Fatal(err)
	}
	if zone != want {
		t.Fatalf("session time zone is %q; want %q", zone, want)
	}
}

// TestTimestampUnderNonUTCSessionZone pins down what the package docs say
// of TIMESTAMP under another session time zone: expiry still comes out right
// when every client uses that zone, but the column holds shifted times.
func TestTimestampUnderNonUTCSessionZone(t *testing.T) {
	t.Parallel()
	s, db := newStore(t, []string{scsREADMETable}, mysqltest.Param("time_zone", "'%2B05:30'"))
	T := time.Now().Add(2 * time.Second).Truncate(time.Microsecond)
	if err := s.Commit(tokenA, []byte("tz"), T); err != nil {
		t.Fatal(err)
	}
	var unix float64
	if err := db.QueryRow("SELECT UNIX_TIMESTAMP(expiry) FROM sessions").Scan(&unix); err != nil {
		t.Fatal(err)
	}
	if shift := time.Unix(int64(unix), 0).Sub(T.Truncate(time.Second)); shift != -(5*time.Hour + 30*time.Minute) {
		t.Errorf("the column's instant is %v off the expiry; want -5h30m, as documented", shift)
	}
	_, found, err := s.Find(tokenA)
	if left := time.Until(T); left > 0 && (err != nil || !found) {
		t.Fatalf("%v before expiry: found %v, err %v; want found", left, found, err)
	}
	time.Sleep(time.Until(T.Add(50 * time.Millisecond)))
	if _, found, err := s.Find(tokenA); err != nil || found {
		t.Fatalf("after expiry: found %v, err %v; want not found", found, err)
	}
}

// TestExpiryWithDriverLocLocal runs the expiry check in a child process with
// TZ=America/New_York and the driver's loc=Local, which makes the driver
// render time.Time arguments in New York time.
func TestExpiryWithDriverLocLocal(t *testing.T) {
	if os.Getenv("SESSIONKIT_TEST_LOC_CHILD") == "1" {
		if name, offset := time.Now().Zone(); offset == 0 {
			t.Fatalf("child runs with local zone %s at UTC offset 0; want America/New_York", name)
		}
		for _, def := range []struct {
			name string
			ddl  []string
			opts []mysqltest.Option
		}{
			{"DATETIME", []string{recommendedTable}, []mysqltest.Option{mysqltest.Param("loc", "Local")}},
			{"TIMESTAMP under UTC session", []string{scsREADMETable}, []mysqltest.Option{mysqltest.Param("loc", "Local"), mysqltest.Param("time_zone", "'%2B00:00'")}},
		} {
			t.Run(def.name, func(t *testing.T) {
				t.Parallel()
				s, db := newStore(t, def.ddl, def.opts...)
				checkExpiry(t, s, db)
			})
		}
		return
	}
	t.Parallel()
	server := mysqltest.Config(t)
	server.DBName = ""
	cmd := exec.Command(os.Args[0], "-test.run=^TestExpiryWithDriverLocLocal$", "-test.v")
	cmd.Env = append(os.Environ(),
		"SESSIONKIT_TEST_LOC_CHILD=1",
		"TZ=America/New_York",
		mysqltest.EnvDSN+"="+server.FormatDSN(),
	)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestExpiryWithDriverLocLocal/DATETIME") ||
		!strings.Contains(string(out), "--- PASS: TestExpiryWithDriverLocLocal/TIMESTAMP") {
		t.Fatalf("child under TZ=America/New_York, loc=Local: %v\n%s", err, out)
	}
}
