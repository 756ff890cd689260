// Command httpbench builds cmd/benchserver, runs it three times against one
// MySQL or MariaDB server (sessionkit's store, scs's mysqlstore, scs's
// memstore), and measures each over HTTP with many clients, each holding its
// own session cookie: the read path GET /get (one store read) and the write
// path GET / (a read and a commit). Phases rotate between the stores round by
// round; the report gives medians of req/s, p50 and p99 latency, the ratio
// to scs's mysqlstore and the fraction of the memstore build reached.
//
//	go run ./cmd/httpbench -dsn 'root@tcp(127.0.0.1:3306)/' -clients 32 -d 5s -rounds 3
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"sessionkit.dev/bench"
)

var stores = []string{"sessionkit", "scs-mysqlstore", "scs-memstore"}

func main() {
	dsn := flag.String("dsn", "root@tcp(127.0.0.1:3306)/", "server DSN (a user who may create databases)")
	clients := flag.Int("clients", 32, "concurrent clients, each with its own session")
	dur := flag.Duration("d", 5*time.Second, "duration of each measured phase")
	rounds := flag.Int("rounds", 3, "rounds; medians are reported")
	extraEnv := flag.String("env", "", "extra env for the sessionkit server, e.g. SESSION_X=y")
	flag.Parse()

	server := buildServer()
	defer os.RemoveAll(filepath.Dir(server))
	base, err := mysql.ParseDSN(*dsn)
	if err != nil {
		log.Fatal(err)
	}
	admin, err := sql.Open("mysql", base.FormatDSN())
	if err != nil {
		log.Fatal(err)
	}
	urls := map[string]string{}
	for _, st := range stores {
		env := []string{"SESSION_COOKIE_SECURE=false", "SESSION_CREATE_TABLE=true"}
		if st != "scs-memstore" {
			name := "httpbench_" + st[:3]
			admin.Exec("DROP DATABASE IF EXISTS " + name)
			if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
				log.Fatal(err)
			}
			if st == "scs-mysqlstore" {
				for _, q := range []string{
					"CREATE TABLE " + name + ".sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)",
					"CREATE INDEX sessions_expiry_idx ON " + name + ".sessions (expiry)",
				} {
					if _, err := admin.Exec(q); err != nil {
						log.Fatal(err)
					}
				}
			}
			c := base.Clone()
			c.DBName = name
			c.ParseTime = true
			env = append(env, "SESSION_MYSQL_DSN="+c.FormatDSN())
		}
		if st == "sessionkit" && *extraEnv != "" {
			env = append(env, *extraEnv)
		}
		port := freePort()
		cmd := exec.Command(server, "-store", st, "-addr", "127.0.0.1:"+strconv.Itoa(port))
		cmd.Env = append(os.Environ(), env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // no server outlives a failed run
		if err := cmd.Start(); err != nil {
			log.Fatal(err)
		}
		defer cmd.Process.Signal(os.Interrupt)
		urls[st] = "http://127.0.0.1:" + strconv.Itoa(port)
		waitReady(urls[st])
	}

	type key struct{ store, path string }
	results := map[key][]bench.HTTPPhase{}
	for r := 0; r < *rounds; r++ {
		for _, path := range []string{"/get", "/"} {
			order := slices.Clone(stores)
			for i := 0; i < r; i++ { // rotate so no store always goes first
				order = append(order[1:], order[0])
			}
			for _, st := range order {
				p, err := bench.RunHTTP([]string{urls[st]}, path, *clients, *dur)
				if err != nil {
					log.Fatal(err)
				}
				results[key{st, path}] = append(results[key{st, path}], p)
				fmt.Fprintf(os.Stderr, "round %d %-15s %-4s %8.0f req/s p50 %v p99 %v errors %d\n", r+1, st, path, p.RPS, p.P50, p.P99, p.Errors)
			}
		}
	}
	fmt.Printf("\n%d clients, %v per phase, median of %d rounds\n\n", *clients, *dur, *rounds)
	fmt.Printf("| path | store | req/s | p50 | p99 | vs scs mysqlstore | of memstore |\n|---|---|---|---|---|---|---|\n")
	for _, path := range []string{"/get", "/"} {
		scs := bench.MedianHTTP(results[key{"scs-mysqlstore", path}])
		mem := bench.MedianHTTP(results[key{"scs-memstore", path}])
		for _, st := range stores {
			m := bench.MedianHTTP(results[key{st, path}])
			fmt.Printf("| %s | %s | %.0f | %v | %v | %.2fx | %.0f%% |\n", path, st, m.RPS, m.P50.Round(time.Microsecond), m.P99.Round(time.Microsecond), m.RPS/scs.RPS, 100*m.RPS/mem.RPS)
		}
	}
}

func waitReady(url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(url + "/get"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatalf("%s not ready", url)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// buildServer builds cmd/benchserver into a temporary folder.
func buildServer() string {
	dir, err := os.MkdirTemp("", "httpbench-*")
	if err != nil {
		log.Fatal(err)
	}
	bin := filepath.Join(dir, "benchserver")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/benchserver")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("building cmd/benchserver (run httpbench from bench/): %v", err)
	}
	return bin
}
