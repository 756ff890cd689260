package mysqltest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
)

// WaitSynced waits until the node is Synced, ready for queries and part of
// the primary component.
func (n *Node) WaitSynced(ctx context.Context) error {
	n.cluster.mu.Lock()
	exited := n.exited
	running := n.runningLocked()
	n.cluster.mu.Unlock()
	if !running {
		return fmt.Errorf("mysqltest: %s is not running", n)
	}
	return n.waitState(ctx, 0, exited)
}

// waitState polls the node's wsrep status until it is Synced, ready and
// Primary, and, unless size is 0, its cluster has size nodes. It gives up
// as soon as exited closes.
func (n *Node) waitState(ctx context.Context, size int, exited <-chan struct{}) error {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "unix"
	cfg.Addr = n.socket()
	cfg.Timeout = time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var last string
	for {
		st, err := wsrepStatus(ctx, db)
		if err == nil {
			last = fmt.Sprintf("state %s, ready %s, status %s, cluster size %s",
				st["wsrep_local_state_comment"], st["wsrep_ready"], st["wsrep_cluster_status"], st["wsrep_cluster_size"])
			if st["wsrep_local_state_comment"] == "Synced" && st["wsrep_ready"] == "ON" && st["wsrep_cluster_status"] == "Primary" &&
				(size == 0 || st["wsrep_cluster_size"] == strconv.Itoa(size)) {
				return nil
			}
		} else {
			last = err.Error()
		}
		select {
		case <-exited:
			return fmt.Errorf("mysqltest: %s exited before it was Synced%s", n, n.errorLogTail())
		case <-ctx.Done():
			return fmt.Errorf("mysqltest: %s not Synced (want cluster size %d): %s%s", n, size, last, n.errorLogTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func wsrepStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN "+
		"('wsrep_local_state_comment', 'wsrep_ready', 'wsrep_cluster_status', 'wsrep_cluster_size')")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	st := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		st[name] = value
	}
	return st, rows.Err()
}

var (
	crashedState  = regexp.MustCompile(`(?m)^seqno:\s+-1\s*$`)
	recoveredLine = regexp.MustCompile(`WSREP: Recovered position: ([0-9a-f-]+):(-?[0-9]+)`)
	uuidLine      = regexp.MustCompile(`(?m)^uuid:.*$`)
	seqnoLine     = regexp.MustCompile(`(?m)^seqno:.*$`)
	unsafeLine    = regexp.MustCompile(`(?m)^safe_to_bootstrap:\s*0\s*$`)
)

func (n *Node) grastate() string { return filepath.Join(n.datadir(), "grastate.dat") }

// recover, after a crash, writes the last transaction the node committed
// into Galera's state file, reading it from InnoDB with mariadbd
// --wsrep-recover as mysqld_safe does. The state file knows the position
// only after a clean shutdown (and, after a node first joined by a full
// copy, not even the cluster's UUID until then); without it the node would
// need a full copy (SST) where the write-set cache of a donor (IST) is
// enough. When recovery fails, the file is left alone and the node asks for
// a full copy.
func (n *Node) recover() {
	state, err := os.ReadFile(n.grastate())
	if err != nil || !crashedState.Match(state) {
		return
	}
	log := filepath.Join(n.dir, "recover.log")
	os.Remove(log)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append(n.args(), "--wsrep-recover", "--log-error="+log)
	if err := exec.CommandContext(ctx, n.cluster.setup.server, args...).Run(); err != nil {
		return
	}
	out, _ := os.ReadFile(log)
	m := recoveredLine.FindSubmatch(out)
	if m == nil {
		return
	}
	state = uuidLine.ReplaceAll(state, append([]byte("uuid:    "), m[1]...))
	state = seqnoLine.ReplaceAll(state, append([]byte("seqno:   "), m[2]...))
	os.WriteFile(n.grastate(), state, 0o660)
}

// markSafeToBootstrap lets the node bootstrap a cluster from data that
// Galera marks unsafe after a crash, which is the operator's step when the
// whole cluster went down.
func (n *Node) markSafeToBootstrap() error {
	state, err := os.ReadFile(n.grastate())
	if err != nil {
		return nil // a node that never ran: nothing to mark
	}
	marked := unsafeLine.ReplaceAll(state, []byte("safe_to_bootstrap: 1"))
	return os.WriteFile(n.grastate(), marked, 0o660)
}
