package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/internal/mysqlserver"
)

// GaleraCluster is a MariaDB Galera cluster of three nodes on 127.0.0.1,
// every one of them a primary, for tests of what a multi-primary cluster does
// to the store: a write on one node read on another, a node that crashes and
// comes back.
//
// Each node is a mariadbd process with its own temporary directory and four
// ports (SQL, group communication, IST and SST). When the tests run as root,
// the nodes run as the mysql user: a joining node receives its copy of the
// data through an rsync daemon, which started by root drops to nobody and
// then cannot write the node's data directory. Everything is removed when
// the cluster is stopped or the test binary exits, however it exits.
type GaleraCluster struct {
	name  string // wsrep_cluster_name, unique so that clusters never merge
	dir   string
	setup galeraSetup
	nodes []*Node

	// mu serialises starting and stopping nodes: a node that starts looks
	// at which others are running, and Galera joins one node at a time.
	mu sync.Mutex

	janitor     *exec.Cmd
	janitorIn   io.WriteCloser
	janitorDone chan struct{}
}

const (
	galeraNodes      = 3
	galeraPackages   = "galera-4 rsync"
	galeraStartLimit = 3 * time.Minute // a joiner waits for its state transfer
)

// galeraLibraries are where distributions install the Galera 4 provider.
var galeraLibraries = []string{
	"/usr/lib/galera/libgalera_smm.so",   // Debian, Ubuntu
	"/usr/lib/galera-4/libgalera_smm.so", // older Ubuntu
	"/usr/lib64/galera-4/libgalera_smm.so",
	"/usr/lib64/galera/libgalera_smm.so",
}

// galeraSetup is what starting a cluster on this machine takes.
type galeraSetup struct {
	server    string // mariadbd
	installDB string // mariadb-install-db
	provider  string // libgalera_smm.so
	runAs     *user.User
}

// findGalera finds the programs a cluster needs, or says in one line what is
// missing and how to install it.
func findGalera() (galeraSetup, error) {
	missing := func(what string) (galeraSetup, error) {
		return galeraSetup{}, fmt.Errorf("mysqltest: no Galera cluster for this test: %s (%s=1 turns this skip into a failure)",
			what, EnvRequireDB)
	}
	var s galeraSetup
	s.server = serverBinary()
	if s.server == "" || filepath.Base(s.server) != "mariadbd" {
		return missing("it needs MariaDB's mariadbd; install it with apt-get install mariadb-server " + galeraPackages)
	}
	s.installDB = mysqlserver.LookPath("mariadb-install-db", "mysql_install_db")
	if s.installDB == "" {
		return missing("mariadb-install-db not found; install it with apt-get install mariadb-server")
	}
	for _, p := range galeraLibraries {
		if _, err := os.Stat(p); err == nil {
			s.provider = p
			break
		}
	}
	if s.provider == "" {
		return missing("the Galera library " + galeraLibraries[0] + " not found; install it with apt-get install " + galeraPackages)
	}
	if mysqlserver.LookPath("rsync") == "" {
		return missing("rsync not found; install it with apt-get install " + galeraPackages)
	}
	if mysqlserver.LookPath("wsrep_sst_rsync") == "" {
		return missing("the state transfer script wsrep_sst_rsync not found; install it with apt-get install mariadb-server")
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("mysql")
		if err != nil {
			return missing("running as root, the nodes need a mysql user to run as; apt-get install mariadb-server creates it")
		}
		s.runAs = u
	}
	return s, nil
}

var clusters struct {
	mu  sync.Mutex
	c   *GaleraCluster
	err error // why the cluster could not start; not retried
}

// Cluster returns the Galera cluster of this test binary, started on first
// use (10 to 20 seconds, more on a busy machine) and shared by every test
// that asks for it. Any node a previous test left stopped is started again
// and the cluster is Synced before Cluster returns. Tests that kill or stop
// nodes should not run in parallel with other tests of the cluster. A test
// of the cluster is a long test: it calls Long first, so that go test ./...
// leaves it out.
//
// Without MariaDB, the Galera library, rsync or the rsync state transfer
// script, the test is skipped with a message saying what to install, or
// fails when SESSIONKIT_TEST_REQUIRE_DB=1. Call StopClusters when the tests
// are done; Main does.
func Cluster(t testing.TB) *GaleraCluster {
	t.Helper()
	setup, err := findGalera()
	if err != nil {
		if os.Getenv(EnvRequireDB) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	clusters.mu.Lock()
	defer clusters.mu.Unlock()
	if clusters.err != nil {
		t.Fatal(clusters.err)
	}
	if clusters.c == nil {
		began := time.Now()
		// The free ports it picks may be taken by another process before
		// a node binds them: a start that failed for that is tried again,
		// on other ports.
		for attempt := 0; ; attempt++ {
			clusters.c, clusters.err = startCluster(setup)
			if clusters.err == nil || attempt == 2 || !strings.Contains(clusters.err.Error(), "Address already in use") {
				break
			}
			t.Logf("mysqltest: Galera cluster start: a port was taken, trying again on others")
		}
		if clusters.err != nil {
			t.Fatal(clusters.err)
		}
		t.Logf("mysqltest: Galera cluster of %d nodes started in %s", galeraNodes, time.Since(began).Round(100*time.Millisecond))
	}
	c := clusters.c
	for _, n := range c.nodes {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// StopClusters stops and removes the cluster that Cluster started, if any.
func StopClusters() {
	clusters.mu.Lock()
	defer clusters.mu.Unlock()
	if clusters.c != nil {
		clusters.c.remove()
	}
	clusters.c, clusters.err = nil, nil
}

// Nodes returns the nodes in order: node1 first.
func (c *GaleraCluster) Nodes() []*Node { return append([]*Node(nil), c.nodes...) }

// startCluster initialises node1, bootstraps the cluster from it and lets
// the others join by state transfer.
func startCluster(setup galeraSetup) (*GaleraCluster, error) {
	dir, err := os.MkdirTemp("", "sessionkit-galera-*")
	if err != nil {
		return nil, err
	}
	var b [4]byte
	rand.Read(b[:])
	c := &GaleraCluster{name: "sessionkit-" + hex.EncodeToString(b[:]), dir: dir, setup: setup}
	if err := c.startJanitor(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	fail := func(err error) (*GaleraCluster, error) {
		c.remove()
		return nil, err
	}
	ports, err := unusedPorts(4 * galeraNodes)
	if err != nil {
		return fail(err)
	}
	for i := range galeraNodes {
		n := &Node{Name: "node" + strconv.Itoa(i+1), cluster: c, Port: ports[4*i],
			gcomm: ports[4*i+1], istPort: ports[4*i+2], sstPort: ports[4*i+3]}
		n.dir = filepath.Join(dir, n.Name)
		for _, d := range []string{n.dir, n.datadir(), n.tmpdir()} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return fail(err)
			}
		}
		c.nodes = append(c.nodes, n)
	}
	if err := c.chown(); err != nil {
		return fail(err)
	}
	// Only node1 is initialised: the others receive its files when they
	// join, users included.
	if err := c.nodes[0].initialise(); err != nil {
		return fail(err)
	}
	for _, n := range c.nodes {
		if err := n.Start(); err != nil {
			return fail(err)
		}
		if n == c.nodes[0] {
			if err := n.prepareUsers(); err != nil {
				return fail(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.WaitSynced(ctx); err != nil {
		return fail(err)
	}
	return c, nil
}

// startJanitor starts the process that removes the cluster's directory once
// this process has exited and every node's wrapper has stopped its server.
// It blocks reading a pipe from this process, which closes however this
// process ends, SIGKILL included.
func (c *GaleraCluster) startJanitor() error {
	script := `cat >/dev/null
for f in "$DIR"/node*/wrapper.pid; do
  [ -e "$f" ] || continue
  pid=$(cat "$f") i=0
  while [ "$i" -lt 600 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; i=$((i+1)); done
done
rm -rf "$DIR"`
	cmd := exec.Command("/bin/sh", "-c", script, "mysqltest-galera-janitor")
	cmd.Env = append(os.Environ(), "DIR="+c.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mysqltest: starting the cluster's janitor: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	c.janitor, c.janitorIn, c.janitorDone = cmd, in, done
	return nil
}

// remove kills every node and removes the cluster's files. The data is
// thrown away, so a crash is as good as a clean shutdown and much faster.
func (c *GaleraCluster) remove() {
	for _, n := range c.nodes {
		n.Kill()
	}
	c.janitorIn.Close()
	<-c.janitorDone
}

// chown gives the cluster's files to the user the nodes run as.
func (c *GaleraCluster) chown() error {
	if c.setup.runAs == nil {
		return nil
	}
	uid, err := strconv.Atoi(c.setup.runAs.Uid)
	if err != nil {
		return err
	}
	gid, err := strconv.Atoi(c.setup.runAs.Gid)
	if err != nil {
		return err
	}
	return filepath.Walk(c.dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// WaitSynced waits until every running node is Synced and ready, and sees
// a cluster made of all the running nodes: after a node is killed, the
// others notice only after Galera's suspect timeout (5s by default).
func (c *GaleraCluster) WaitSynced(ctx context.Context) error {
	c.mu.Lock()
	exited := map[*Node]chan struct{}{}
	for _, n := range c.nodes {
		if n.runningLocked() {
			exited[n] = n.exited
		}
	}
	c.mu.Unlock()
	for _, n := range c.nodes {
		if ch, ok := exited[n]; ok {
			if err := n.waitState(ctx, len(exited), ch); err != nil {
				return err
			}
		}
	}
	return nil
}

// Database creates a fresh database through the first running node, waits
// until every running node has it, and returns one driver configuration per
// node, in node order, for root over TCP to that node with the database
// selected. The database is dropped when t ends, through a node that is up
// then.
func (c *GaleraCluster) Database(t testing.TB) []*mysql.Config {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "sk_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.exec(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		t.Fatalf("mysqltest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.exec(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
	})
	var configs []*mysql.Config
	for _, n := range c.nodes {
		cfg := n.Config()
		cfg.DBName = name
		configs = append(configs, cfg)
		if !n.Running() {
			continue
		}
		// DDL reaches the other nodes a moment after the statement returns;
		// wsrep_sync_wait makes the check wait for it.
		check := n.Config()
		check.Params = map[string]string{"wsrep_sync_wait": "1"}
		if err := queryUntil(ctx, check, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '"+name+"'", "1"); err != nil {
			t.Fatalf("mysqltest: database %s on %s: %v%s", name, n, err, n.errorLogTail())
		}
	}
	return configs
}

// exec runs a statement on the first running node.
func (c *GaleraCluster) exec(ctx context.Context, query string) error {
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		db, err := sql.Open("mysql", n.Config().FormatDSN())
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, query)
		return err
	}
	return errors.New("no node is running")
}

// queryUntil runs a one-value query until it returns want.
func queryUntil(ctx context.Context, cfg *mysql.Config, query, want string) error {
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		var got string
		err := db.QueryRowContext(ctx, query).Scan(&got)
		if err == nil && got == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s returned %q, not %q (%v)", query, got, want, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// unusedPorts returns n distinct ports that nothing listens on, chosen below
// Linux's ephemeral range (32768 and up): the kernel gives ports from that
// range to outgoing connections and to other tests' servers, and a joiner's
// SST port stays unbound until the node joins, so a port from that range
// could be taken in the meantime.
func unusedPorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("mysqltest: no unused ports between 20000 and 32767")
		}
		p := 20000 + mathrand.IntN(12768)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}
