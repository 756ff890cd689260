package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPUTime is processor time (user and system) used so far by this process
// (the client: the stores, database/sql and the driver) and by the database
// server process. Unlike throughput, CPU time per operation hardly changes
// when other processes load the machine, and with 16 goroutines on 2 cores
// it is what bounds throughput.
type CPUTime struct {
	Client, Server time.Duration
}

// Sub returns the CPU time used from before to t.
func (t CPUTime) Sub(before CPUTime) CPUTime {
	return CPUTime{Client: t.Client - before.Client, Server: t.Server - before.Server}
}

// CPUMeter reads CPUTime. It can read the server's share only when the
// server runs on this machine and /proc shows it; otherwise Server is zero.
type CPUMeter struct {
	serverStat string // /proc/<pid>/stat of the server, or ""
}

// clockTicksPerSecond is Linux's USER_HZ, the unit of /proc/<pid>/stat times.
const clockTicksPerSecond = 100

// NewCPUMeter finds the server process through its pid file.
func NewCPUMeter(ctx context.Context, db *sql.DB) CPUMeter {
	var pidFile string
	if err := db.QueryRowContext(ctx, "SELECT @@pid_file").Scan(&pidFile); err != nil {
		return CPUMeter{}
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return CPUMeter{}
	}
	stat := fmt.Sprintf("/proc/%s/stat", strings.TrimSpace(string(b)))
	if _, err := os.Stat(stat); err != nil {
		return CPUMeter{}
	}
	return CPUMeter{serverStat: stat}
}

// MeasuresServer reports whether Read includes the server's CPU time.
func (m CPUMeter) MeasuresServer() bool { return m.serverStat != "" }

// Read returns the CPU time used so far.
func (m CPUMeter) Read() CPUTime {
	var t CPUTime
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		t.Client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m.serverStat != "" {
		t.Server = readProcCPU(m.serverStat)
	}
	return t
}

// ProcessCPU returns the CPU time (user and system) used so far by the
// process pid, or 0 when /proc does not show it.
func ProcessCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	return readProcCPU(fmt.Sprintf("/proc/%d/stat", pid))
}

// SelfCPU returns the CPU time used so far by this process.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readProcCPU returns utime + stime of /proc/<pid>/stat, summed over the
// process's threads.
func readProcCPU(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * time.Second / clockTicksPerSecond
}

// LoadAverage returns the machine's load averages over 1, 5 and 15 minutes,
// as /proc/loadavg gives them, or "unknown".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
