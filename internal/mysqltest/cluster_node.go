package mysqltest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Node is one member of a GaleraCluster.
type Node struct {
	// Name is the node's wsrep_node_name: node1, node2 or node3.
	Name string
	// Port is the TCP port on 127.0.0.1 where the node accepts SQL.
	Port int

	cluster                 *GaleraCluster
	dir                     string
	gcomm, istPort, sstPort int

	// Guarded by cluster.mu.
	wrapper *exec.Cmd
	stdin   io.WriteCloser
	exited  chan struct{}
}

func (n *Node) datadir() string  { return filepath.Join(n.dir, "data") }
func (n *Node) tmpdir() string   { return filepath.Join(n.dir, "tmp") }
func (n *Node) socket() string   { return filepath.Join(n.dir, "mysqld.sock") }
func (n *Node) errorLog() string { return filepath.Join(n.dir, "error.log") }

// String describes the node for test logs.
func (n *Node) String() string { return fmt.Sprintf("Galera %s on 127.0.0.1:%d", n.Name, n.Port) }

// Config returns a driver configuration for root over TCP to this node, with
// no database selected.
func (n *Node) Config() *mysql.Config {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "tcp"
	c.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Port))
	c.ParseTime = true
	return c
}

func (n *Node) userArgs() []string {
	if u := n.cluster.setup.runAs; u != nil {
		return []string{"--user=" + u.Username}
	}
	return nil
}

// initialise creates the system tables in the node's data directory.
func (n *Node) initialise() error {
	args := []string{"--no-defaults", "--datadir=" + n.datadir(), "--tmpdir=" + n.tmpdir(),
		"--auth-root-authentication-method=normal", "--skip-test-db", "--innodb-log-file-size=16M"}
	out, err := exec.Command(n.cluster.setup.installDB, append(args, n.userArgs()...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mysqltest: initialising %s: %w\n%s", n.datadir(), err, out)
	}
	return nil
}

// args are the server options of the node. Memory is kept small: three
// nodes share a CI machine with the tests.
func (n *Node) args() []string {
	var members []string
	for _, m := range n.cluster.nodes {
		members = append(members, "127.0.0.1:"+strconv.Itoa(m.gcomm))
	}
	provider := fmt.Sprintf("gmcast.listen_addr=tcp://127.0.0.1:%d;ist.recv_addr=127.0.0.1:%d;gcache.size=32M;gcache.page_size=32M",
		n.gcomm, n.istPort)
	args := []string{"--no-defaults", "--datadir=" + n.datadir(), "--tmpdir=" + n.tmpdir(), "--socket=" + n.socket(),
		"--port=" + strconv.Itoa(n.Port), "--bind-address=127.0.0.1", "--skip-name-resolve",
		"--log-error=" + n.errorLog(), "--pid-file=" + filepath.Join(n.dir, "mysqld.pid"),
		"--innodb-log-file-size=16M", "--innodb-buffer-pool-size=32M", "--innodb-log-buffer-size=4M",
		"--key-buffer-size=1M", "--aria-pagecache-buffer-size=8M", "--max-connections=200",
		"--innodb-flush-log-at-trx-commit=2", "--skip-log-bin", "--max-allowed-packet=64M",
		"--binlog-format=ROW", "--innodb-autoinc-lock-mode=2", "--default-storage-engine=InnoDB",
		"--wsrep-on=ON", "--wsrep-provider=" + n.cluster.setup.provider,
		"--wsrep-cluster-name=" + n.cluster.name, "--wsrep-cluster-address=gcomm://" + strings.Join(members, ","),
		"--wsrep-node-name=" + n.Name, "--wsrep-node-address=127.0.0.1:" + strconv.Itoa(n.gcomm),
		"--wsrep-node-incoming-address=127.0.0.1:" + strconv.Itoa(n.Port),
		"--wsrep-sst-method=rsync", "--wsrep-sst-receive-address=127.0.0.1:" + strconv.Itoa(n.sstPort),
		"--wsrep-provider-options=" + provider}
	return append(args, n.userArgs()...)
}

// Start starts the node if it is not running and waits until it is Synced
// and ready. With another node running, it joins the cluster and catches up
// on what it missed, from a donor's write-set cache (IST) when that still
// holds the writes and by copying a donor's files (SST) otherwise; a donor
// of a full copy is read-only for the time it takes. With no other node
// running, it bootstraps a new cluster from its own data.
//
// A node that fails to start returns an error within seconds of exiting,
// with the end of its error log.
func (n *Node) Start() error {
	c := n.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.runningLocked() {
		return nil
	}
	bootstrap := true
	for _, m := range c.nodes {
		if m != n && m.runningLocked() {
			bootstrap = false
		}
	}
	n.recover()
	args := n.args()
	if bootstrap {
		if err := n.markSafeToBootstrap(); err != nil {
			return err
		}
		args = append(args, "--wsrep-new-cluster")
	}
	if err := n.launch(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), galeraStartLimit)
	defer cancel()
	return n.waitState(ctx, 0, n.exited)
}

// launch starts the node's server under a shell wrapper that stops the
// server when this process exits, however it exits, and that exits itself
// when the server does, which is how a failed start-up is noticed at once.
func (n *Node) launch(args []string) error {
	// The wrapper's standard input is a pipe from this process that is
	// never written to; it closes on Stop, or when this process dies. The
	// janitor reads wrapper.pid to wait for the server before it removes
	// the files.
	script := `echo $$ >"$NODE/wrapper.pid"
exec 3<&0
"$@" </dev/null >/dev/null 2>&1 3<&- &
pid=$!
{ cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null; } &
wait "$pid"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "mysqltest-galera-" + n.Name, n.cluster.setup.server}, args...)...)
	cmd.Env = append(os.Environ(), "NODE="+n.dir)
	// A process group of its own: Ctrl-C on the tests does not reach it,
	// and Kill can crash the server together with any state transfer
	// helper it runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mysqltest: starting %s: %w", n, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	n.wrapper, n.stdin, n.exited = cmd, stdin, exited
	return nil
}

// Running reports whether the node's server process is running (which does
// not mean that it is Synced).
func (n *Node) Running() bool {
	n.cluster.mu.Lock()
	defer n.cluster.mu.Unlock()
	return n.runningLocked()
}

func (n *Node) runningLocked() bool {
	if n.wrapper == nil {
		return false
	}
	select {
	case <-n.exited:
		n.wrapper, n.stdin, n.exited = nil, nil, nil
		return false
	default:
		return true
	}
}

// Kill stops the node with SIGKILL, as a crash would, keeping its data so
// that Start can bring it back. The other nodes notice after Galera's
// suspect timeout (5s by default); until then, writes on them wait.
func (n *Node) Kill() error {
	n.cluster.mu.Lock()
	defer n.cluster.mu.Unlock()
	if !n.runningLocked() {
		return nil
	}
	// ESRCH: the server and its wrapper exited on their own just now.
	if err := syscall.Kill(-n.wrapper.Process.Pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("mysqltest: killing %s: %w", n, err)
	}
	<-n.exited
	n.wrapper, n.stdin, n.exited = nil, nil, nil
	return nil
}

// Stop shuts the node down cleanly, keeping its data; the other nodes see it
// leave at once.
func (n *Node) Stop() error {
	n.cluster.mu.Lock()
	defer n.cluster.mu.Unlock()
	if !n.runningLocked() {
		return nil
	}
	n.stdin.Close()
	select {
	case <-n.exited:
	case <-time.After(2 * time.Minute):
		syscall.Kill(-n.wrapper.Process.Pid, syscall.SIGKILL)
		<-n.exited
		n.wrapper, n.stdin, n.exited = nil, nil, nil
		return fmt.Errorf("mysqltest: %s did not shut down within 2 minutes; killed it%s", n, n.errorLogTail())
	}
	n.wrapper, n.stdin, n.exited = nil, nil, nil
	return nil
}

// prepareUsers lets root connect over TCP from 127.0.0.1 with an empty
// password, and drops the anonymous users mariadb-install-db creates, which
// would otherwise be chosen over root for connections they match.
func (n *Node) prepareUsers() error {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "unix"
	cfg.Addr = n.socket()
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT Host FROM mysql.user WHERE User = ''")
	if err != nil {
		return fmt.Errorf("mysqltest: listing anonymous users on %s: %w", n, err)
	}
	var hosts []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return err
		}
		hosts = append(hosts, h)
	}
	rows.Close()
	queries := []string{
		"CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
	}
	for _, h := range hosts {
		queries = append(queries, "DROP USER ''@'"+h+"'")
	}
	for _, q := range queries {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mysqltest: %s on %s: %w", q, n, err)
		}
	}
	return nil
}

// errorLogTail returns the end of the node's error log, to explain a node
// that failed.
func (n *Node) errorLogTail() string {
	log, err := os.ReadFile(n.errorLog())
	if err != nil {
		return "\n(no error log: " + err.Error() + ")"
	}
	return "\n" + n.String() + ", end of its error log:\n" + logTail(log)
}

func logTail(log []byte) string {
	const max = 3000
	if len(log) > max {
		log = log[len(log)-max:]
	}
	return string(log)
}
