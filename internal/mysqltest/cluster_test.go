package mysqltest

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// TestCluster runs the cluster's tests in order on the one cluster: the
// later ones kill and restart nodes.
func TestCluster(t *testing.T) {
	Long(t)
	c := Cluster(t)
	// No other test of this package uses the cluster: stop it now, so that
	// its memory is free for the tests that come after.
	t.Cleanup(StopClusters)

	t.Run("FormsWithEveryNode", func(t *testing.T) {
		for _, n := range c.Nodes() {
			if got := queryValue(t, n.Config(), "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'wsrep_cluster_size'"); got != "3" {
				t.Errorf("%s: wsrep_cluster_size = %s, want 3", n, got)
			}
		}
		logMemory(t, c)
	})

	t.Run("WriteOnOneNodeIsReadOnAnother", func(t *testing.T) {
		cfgs := c.Database(t)
		db1 := openConfig(t, cfgs[0])
		mustExec(t, db1, "CREATE TABLE kv (k VARCHAR(16) PRIMARY KEY, v VARCHAR(16) NOT NULL)")
		mustExec(t, db1, "INSERT INTO kv VALUES ('written', 'on node1')")
		if got := queryValue(t, causal(cfgs[2]), "SELECT v FROM kv WHERE k = 'written'"); got != "on node1" {
			t.Errorf("node3 read %q, want %q", got, "on node1")
		}
	})

	t.Run("KilledNodeCatchesUpWhenStarted", func(t *testing.T) {
		cfgs := c.Database(t)
		db1 := openConfig(t, cfgs[0])
		mustExec(t, db1, "CREATE TABLE n (i INT PRIMARY KEY)")
		node3 := c.Nodes()[2]
		if err := node3.Kill(); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			mustExec(t, db1, "INSERT INTO n VALUES ("+strconv.Itoa(i)+")")
		}
		began := time.Now()
		if err := node3.Start(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s rejoined in %s", node3, time.Since(began).Round(100*time.Millisecond))
		if got := queryValue(t, causal(cfgs[2]), "SELECT COUNT(*) FROM n"); got != "100" {
			t.Errorf("node3 has %s rows after rejoining, want the 100 written while it was down", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.WaitSynced(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("FailedStartSaysWhyWithinSeconds", func(t *testing.T) {
		node2 := c.Nodes()[1]
		if err := node2.Stop(); err != nil {
			t.Fatal(err)
		}
		// Something else now holds the node's group communication port, so
		// the node exits during start-up. (Taking its SQL port would make it
		// fail too, but only after it joined, and the others would then wait
		// for that instance to time out before letting the node in again.)
		// How the node words its failure is Galera's affair: usually
		// "Address already in use", but its thread that failed to listen
		// may also end before the node sets that thread's priority, and the
		// node then reports that instead ("Failed to set thread
		// schedparams ... No such process"). What Start owes is the same
		// either way: an error within seconds that quotes the end of the
		// node's error log, where the reason is.
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(node2.gcomm)))
		if err != nil {
			t.Fatal(err)
		}
		before := fileSize(t, node2.errorLog())
		began := time.Now()
		err = node2.Start()
		took := time.Since(began)
		l.Close()
		if err == nil {
			t.Fatal("Start succeeded on a port another process listens on")
		}
		if took > 10*time.Second {
			t.Errorf("Start took %s to fail", took)
		}
		log, rerr := os.ReadFile(node2.errorLog())
		if rerr != nil {
			t.Fatal(rerr)
		}
		written := strings.TrimSpace(string(log[min(before, int64(len(log))):]))
		if written == "" {
			t.Fatalf("the node wrote nothing to its error log in the failed start; Start said:\n%v", err)
		}
		msg := err.Error()
		lines := strings.Split(written, "\n")
		if last := lines[len(lines)-1]; !strings.Contains(msg, "end of its error log") || !strings.Contains(msg, last) {
			t.Errorf("Start's error does not quote the end of the node's error log, whose last line is %q:\n%v", last, err)
		}
		for _, line := range lines {
			if strings.Contains(line, "[ERROR]") {
				t.Logf("the node's error: %s", line)
			}
		}
		if err := node2.Start(); err != nil {
			t.Fatalf("Start with the port free again: %v", err)
		}
	})
}

// fileSize returns the size of the file at path, 0 if there is none.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// causal returns cfg with wsrep_sync_wait set for reads, so that a read on
// one node sees every write the cluster committed before it.
func causal(cfg *mysql.Config) *mysql.Config {
	c := cfg.Clone()
	c.Params = map[string]string{"wsrep_sync_wait": "1"}
	return c
}

func openConfig(t *testing.T, cfg *mysql.Config) *sql.DB {
	t.Helper()
	return Open(t, cfg.FormatDSN())
}

func mustExec(t *testing.T, db *sql.DB, query string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func queryValue(t *testing.T, cfg *mysql.Config, query string) string {
	t.Helper()
	db := openConfig(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var v string
	if err := db.QueryRowContext(ctx, query).Scan(&v); err != nil {
		t.Fatalf("%s on %s: %v", query, cfg.Addr, err)
	}
	return v
}

// logMemory logs the resident memory of each node's server, to keep an eye
// on what the cluster costs a CI machine.
func logMemory(t *testing.T, c *GaleraCluster) {
	var total int
	var each []string
	for _, n := range c.Nodes() {
		pid, err := os.ReadFile(filepath.Join(n.dir, "mysqld.pid"))
		if err != nil {
			return
		}
		status, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/status")
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
				kb, _ := strconv.Atoi(f[1])
				total += kb
				each = append(each, n.Name+" "+strconv.Itoa(kb/1024)+" MiB")
			}
		}
	}
	t.Logf("resident memory: %s; %d MiB in all", strings.Join(each, ", "), total/1024)
}
