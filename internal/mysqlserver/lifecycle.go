package mysqlserver

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Files the harness and the wrapper share in the server's directory.
const (
	keepFile       = "KEEP"        // the wrapper leaves the directory in place
	removeFile     = "REMOVE"      // the wrapper removes it, KEEP or not
	serverPIDFile  = "server.pid"  // the server's process id, written by the wrapper
	serverExitFile = "server.exit" // the server's exit status, written by the wrapper
)

// startTimeout bounds how long Start waits for a server that is still
// running to accept connections.
const startTimeout = 60 * time.Second

// wrapperScript runs the server (its arguments) and owns it. It writes the
// server's process id, then waits for the server to exit and writes its exit
// status, which is how Start learns within moments that a server died while
// starting. Meanwhile a background job reads standard input, a pipe from the
// program that started it: when that closes, because the program stopped the
// server on purpose or exited, even by SIGKILL, the job stops the server. The
// wrapper itself lives on until standard input closes, so the error log of a
// server that died is still there to read, and only then removes the
// directory, unless KEEP (a deliberate Stop or Kill) says otherwise.
//
// The pipe is moved to descriptor 3 because a background job's standard
// input is /dev/null; the server gets neither, and its early output, before
// it opens its error log, goes to the log too. The wrapper ignores SIGHUP:
// when the program dies while the server is paused, the kernel sends
// SIGHUP and SIGCONT to the wrapper's process group, now orphaned, and the
// wrapper must outlive that to stop the server.
const wrapperScript = `exec 3<&0
"$@" 3<&- </dev/null >>"$DIR/error.log" 2>&1 & pid=$!
trap '' HUP
echo "$pid" >"$DIR/server.pid.tmp" && mv "$DIR/server.pid.tmp" "$DIR/server.pid"
{
	cat <&3 >/dev/null
	if [ ! -e "$DIR/server.exit" ]; then
		kill -TERM "$pid" 2>/dev/null
		kill -CONT "$pid" 2>/dev/null # a paused server acts on TERM only once continued
	fi
} &
exec 3<&-
wait "$pid"
echo "$?" >"$DIR/server.exit.tmp" && mv "$DIR/server.exit.tmp" "$DIR/server.exit"
wait
if [ -e "$DIR/REMOVE" ] || [ ! -e "$DIR/KEEP" ]; then rm -rf "$DIR"; fi`

func (s *Server) file(name string) string { return filepath.Join(s.dir, name) }

// Start starts the server process and waits until it accepts connections.
// The server runs under a small shell wrapper that stops it and removes its
// files as soon as the program that started it exits, however it exits.
// When the server exits during start-up, Start returns at once with the end
// of its error log; the data directory stays, as after Stop.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrapper != nil {
		return nil
	}
	args := []string{"--no-defaults", "--datadir=" + s.datadir(), "--tmpdir=" + s.tmpdir(), "--socket=" + s.socket(),
		"--port=" + strconv.Itoa(s.Port), "--bind-address=127.0.0.1", "--skip-name-resolve",
		"--log-error=" + s.file("error.log"), "--pid-file=" + s.file("mysqld.pid"),
		"--innodb-log-file-size=16M", "--innodb-buffer-pool-size=64M", "--max-connections=500",
		"--innodb-flush-log-at-trx-commit=2", "--max-allowed-packet=64M", "--skip-log-bin", "--mysqlx=OFF"}
	if s.isMariaDB() {
		args = args[:len(args)-1] // MariaDB has no X plugin option
	}
	if s.tz != "" && !isNamedZone(s.tz) {
		args = append(args, "--default-time-zone="+s.tz)
	}
	args = append(args, s.userArgs()...)
	args = append(args, s.ExtraArgs...)
	for _, name := range []string{keepFile, removeFile, serverPIDFile, serverExitFile} {
		if err := os.Remove(s.file(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	cmd := exec.Command("/bin/sh", append([]string{"-c", wrapperScript, "mysqlserver-wrapper", s.bin}, args...)...)
	cmd.Env = append(os.Environ(), "DIR="+s.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mysqlserver: starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.wrapper, s.stdin, s.exited = cmd, stdin, exited
	if err := s.awaitReady(); err != nil {
		s.shutdown(false)
		return err
	}
	return nil
}

// awaitReady waits until the server accepts connections on its socket, and
// gives up as soon as the server or its wrapper has exited; s.mu is held.
func (s *Server) awaitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		if status, err := os.ReadFile(s.file(serverExitFile)); err == nil {
			return fmt.Errorf("mysqlserver: %s exited during start-up with status %s%s",
				s.bin, strings.TrimSpace(string(status)), s.ErrorLogTail())
		}
		select {
		case <-s.exited:
			return fmt.Errorf("mysqlserver: the wrapper of %s exited during start-up: %v%s",
				s.bin, s.wrapper.ProcessState, s.ErrorLogTail())
		default:
		}
		if s.pid == 0 {
			if b, err := os.ReadFile(s.file(serverPIDFile)); err == nil {
				s.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
		}
		db, err := sql.Open("mysql", s.rootSocketDSN())
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil && s.pid != 0 {
			return nil
		}
		if time.Now().After(deadline) {
			// A server that has not come up by now is stuck; SIGTERM
			// might not get through either.
			s.signal(syscall.SIGKILL)
			return fmt.Errorf("mysqlserver: %s did not accept connections within %v: %v%s",
				s.bin, startTimeout, err, s.ErrorLogTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server and waits for it to exit, keeping its data so that
// Start can bring it back.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown(false)
}

// Kill stops the server with SIGKILL, as a crash would, keeping its data.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrapper == nil {
		return nil
	}
	// KEEP goes down before the server does: its data must survive
	// whatever the wrapper sees next.
	if err := os.WriteFile(s.file(keepFile), nil, 0o644); err != nil {
		return err
	}
	s.signal(syscall.SIGKILL)
	s.paused = false // SIGKILL ends a stopped process too
	return s.shutdown(false)
}

// Remove stops the server and deletes its files.
func (s *Server) Remove() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown(true)
}

// Pause freezes the server process with SIGSTOP, as a database that stalls
// without closing connections: open connections stay open and new ones wait
// in the listen queue, but nothing is answered until Resume. Stop, Kill and
// Remove resume a paused server first.
func (s *Server) Pause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	s.paused = true
	// The signal stops the server's threads one by one as each notices it;
	// until all have, a request sent now may still be answered.
	deadline := time.Now().Add(5 * time.Second)
	for !allStopped(s.pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("mysqlserver: %s did not stop within 5s of SIGSTOP", s)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// allStopped reports whether every thread of process pid is stopped, by the
// state field of /proc/<pid>/task/<tid>/stat.
func allStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return true // not Linux, or gone: nothing to wait for
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 || i+2 >= len(stat) {
			continue
		}
		if state := stat[i+2]; state != 'T' && state != 't' {
			return false
		}
	}
	return true
}

// Resume lets a paused server run again with SIGCONT.
func (s *Server) Resume() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.signal(syscall.SIGCONT); err != nil {
		return err
	}
	s.paused = false
	return nil
}

// signal sends sig to the server process unless it has exited; s.mu is held.
func (s *Server) signal(sig syscall.Signal) error {
	if s.wrapper == nil || s.pid == 0 {
		return fmt.Errorf("mysqlserver: %s is not running", s)
	}
	if _, err := os.Stat(s.file(serverExitFile)); err == nil {
		return fmt.Errorf("mysqlserver: %s has exited%s", s, s.ErrorLogTail())
	}
	if err := syscall.Kill(s.pid, sig); err != nil {
		return fmt.Errorf("mysqlserver: sending %v to %s: %w", sig, s, err)
	}
	return nil
}

// shutdown has the wrapper stop the server and waits until it has, then
// leaves the directory or removes it; s.mu is held.
func (s *Server) shutdown(remove bool) error {
	if s.wrapper == nil {
		if remove {
			return os.RemoveAll(s.dir)
		}
		return nil
	}
	name := keepFile
	if remove {
		name = removeFile
	}
	if err := os.WriteFile(s.file(name), nil, 0o644); err != nil {
		select {
		case <-s.exited: // the wrapper is gone already, perhaps with the directory
		default:
			return err
		}
	}
	if s.paused {
		// A stopped process does not act on the wrapper's SIGTERM until it
		// is continued.
		s.signal(syscall.SIGCONT)
		s.paused = false
	}
	s.stdin.Close()
	<-s.exited
	s.wrapper, s.stdin, s.exited, s.pid = nil, nil, nil, 0
	return nil
}
