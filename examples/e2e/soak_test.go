package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"sessionkit.dev/internal/mysqltest"
)

// TestSoakKeepsMemoryAndGoroutinesFlat runs a steady, moderate load against
// one chi server (built without the race detector) for SESSIONKIT_E2E_SOAK
// (20s by default, 10 minutes with SESSIONKIT_E2E_SCALE=full), cleanup
// running every second. Resident memory
// (VmRSS) and the goroutine count at the end must not be more than 10%
// above their values after the first fifth of the run (the first minute,
// for runs over five minutes); every request succeeds, every counter is
// exact, and nothing is logged at level ERROR.
func TestSoakKeepsMemoryAndGoroutinesFlat(t *testing.T) {
	mysqltest.Long(t)
	t.Parallel()
	sc := scale(t)
	warmUp := min(sc.soak/5, time.Minute)
	dsn := mysqltest.DSN(t)
	p := startExample(t, plainChi, dsn, "DEBUG_VARS=true", "SESSION_CLEANUP_INTERVAL=1s")
	lb := newBalancer(p)

	ctx, cancel := context.WithTimeout(context.Background(), sc.soak+2*time.Minute)
	defer cancel()
	tr := newLoadTransport(t)
	start := time.Now()
	users, stopUsers := startUsers(ctx, tr, lb, 8, 10*time.Millisecond)
	defer stopUsers()

	// One sample every tenth of the run, for the record; the figures
	// compared are those after the warm-up and at the end.
	var samples []usage
	var first usage
	for _, at := range sampleTimes(sc.soak, warmUp) {
		time.Sleep(time.Until(start.Add(at)))
		u, err := measure(lb, p)
		if err != nil {
			t.Fatal(err)
		}
		u.at = at
		samples = append(samples, u)
		if at == warmUp {
			first = u
		}
	}
	last := samples[len(samples)-1]
	stopUsers()
	elapsed := time.Since(start)

	requests := 0
	for n, u := range users {
		for _, v := range u.log {
			requests++
			if v.err != nil || v.status != http.StatusOK {
				t.Fatalf("user %d: GET / sent at %s: status %d, err %v; body %q",
					n, v.start.Format(time.StampMicro), v.status, v.err, v.body)
			}
		}
		if _, err := u.checkCounters(func(visit) bool { return false }); err != nil {
			t.Fatalf("user %d: %v", n, err)
		}
	}
	for line := range strings.Lines(p.stderr.String()) {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("logged an error: %s", line)
		}
	}
	checkNoPanic(t, p)

	var record strings.Builder
	for _, s := range samples {
		fmt.Fprintf(&record, " %v: %d kB, %d goroutines;", s.at.Round(time.Second), s.rssKB, s.goroutines)
	}
	t.Logf("%d requests in %v (%.0f req/s) from 8 users;%s", requests, elapsed.Round(time.Second),
		float64(requests)/elapsed.Seconds(), record.String())
	if float64(last.rssKB) > 1.10*float64(first.rssKB) {
		t.Errorf("resident memory grew from %d kB after %v to %d kB at the end: more than 10%%",
			first.rssKB, warmUp, last.rssKB)
	}
	if float64(last.goroutines) > 1.10*float64(first.goroutines) {
		t.Errorf("goroutines grew from %d after %v to %d at the end: more than 10%%",
			first.goroutines, warmUp, last.goroutines)
	}
}

// plainChi is the chi example without the race detector, whose runtime
// grows its own memory as the program runs and would hide the server's.
var plainChi = &example{name: "chi", plain: true}

// usage is a process's resident memory and goroutine count at a moment of
// the run.
type usage struct {
	at         time.Duration
	rssKB      int
	goroutines int
}

// sampleTimes returns the moments to sample: every tenth of the run, the end
// of the warm-up, and the end.
func sampleTimes(run, warmUp time.Duration) []time.Duration {
	out := []time.Duration{warmUp, run}
	for i := 1; i < 10; i++ {
		out = append(out, run*time.Duration(i)/10)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// measure pauses the load, lets the requests in flight finish and their
// goroutines end, and reads resident memory and the goroutine count: what
// the process keeps, not what passes through it. It takes the median of
// three readings.
func measure(lb *balancer, p *process) (usage, error) {
	resume := lb.pause()
	defer resume()
	time.Sleep(200 * time.Millisecond)
	var rss, gs []int
	for range 3 {
		kb, err := residentKB(p.cmd.Process.Pid)
		if err != nil {
			return usage{}, err
		}
		v, err := readVars(p.URL)
		if err != nil {
			return usage{}, err
		}
		rss, gs = append(rss, kb), append(gs, v.Goroutines)
		time.Sleep(50 * time.Millisecond)
	}
	slices.Sort(rss)
	slices.Sort(gs)
	return usage{rssKB: rss[1], goroutines: gs[1]}, nil
}
