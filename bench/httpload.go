package bench

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HTTPPhase is what one phase of HTTP load measured.
type HTTPPhase struct {
	OK       int           // requests answered with 200
	RPS      float64       // OK per second
	P50, P99 time.Duration // latency of the OK requests
	Errors   int           // transport errors and statuses other than 200
	Stale    int           // OK requests whose answer missed the session's last write
}

// httpRequestTimeout bounds each request, so that a stalled server ends a
// phase late rather than never.
const httpRequestTimeout = 30 * time.Second

// RunHTTP puts load on an application that NewHTTPHandler serves, at one or
// more addresses (base URLs such as "http://127.0.0.1:8080"), for d: clients
// concurrent clients, each with its own session and cookie jar, send GET path
// back to back. Client c sends its k-th request to urls[(c+k) % len(urls)],
// as a round-robin load balancer without session affinity would, so that
// with several addresses every request of a session goes to another one
// than the last. Before the clock starts each client makes its session with
// GET /put.
//
// An answer is stale when it misses the session's last write: on /get, any
// body but HTTPMessage; on /, a count of visits other than one more than the
// last (after an error the next count is taken as it comes, since the failed
// request may have committed).
func RunHTTP(urls []string, path string, clients int, d time.Duration) (HTTPPhase, error) {
	if len(urls) == 0 || clients < 1 {
		return HTTPPhase{}, errors.New("bench: RunHTTP needs an address and a client")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()

	type client struct {
		http          *http.Client
		lat           []time.Duration
		errors, stale int
		visits        int // the last count seen on /, -1 when unknown
	}
	cs := make([]*client, clients)
	for c := range cs {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return HTTPPhase{}, err
		}
		cs[c] = &client{http: &http.Client{Transport: tr, Jar: jar, Timeout: httpRequestTimeout}}
		if _, err := fetch(cs[c].http, urls[c%len(urls)]+"/put"); err != nil {
			return HTTPPhase{}, err
		}
	}

	var wg sync.WaitGroup
	start := make(chan struct{})
	var stop time.Time
	for c, cl := range cs {
		wg.Go(func() {
			<-start
			for k := 1; time.Now().Before(stop); k++ {
				t0 := time.Now()
				body, err := fetch(cl.http, urls[(c+k)%len(urls)]+path)
				if err != nil {
					cl.errors++
					cl.visits = -1
					continue
				}
				cl.lat = append(cl.lat, time.Since(t0))
				if stale(path, body, &cl.visits) {
					cl.stale++
				}
			}
		})
	}
	begin := time.Now()
	stop = begin.Add(d)
	close(start)
	wg.Wait()
	elapsed := time.Since(begin)

	var p HTTPPhase
	var all []time.Duration
	for _, cl := range cs {
		all = append(all, cl.lat...)
		p.Errors += cl.errors
		p.Stale += cl.stale
	}
	slices.Sort(all)
	p.OK = len(all)
	p.RPS = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		p.P50, p.P99 = all[len(all)/2], all[len(all)*99/100]
	}
	return p, nil
}

// stale reports whether body, the answer to GET path, misses the session's
// last write; visits is the last count of visits seen, -1 when unknown.
func stale(path, body string, visits *int) bool {
	switch path {
	case "/get":
		return body != HTTPMessage+"\n"
	case "/":
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(body, "visits: "), "\n"))
		if err != nil {
			*visits = -1
			return true
		}
		missed := *visits >= 0 && n != *visits+1
		*visits = n
		return missed
	}
	return false
}

// fetch sends GET url and returns the body of a 200 answer.
func fetch(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// MedianHTTP sums OK, Errors and Stale over phases and takes the median of
// RPS, P50 and P99, each on its own.
func MedianHTTP(phases []HTTPPhase) HTTPPhase {
	var m HTTPPhase
	var rps []float64
	var p50, p99 []time.Duration
	for _, p := range phases {
		m.OK += p.OK
		m.Errors += p.Errors
		m.Stale += p.Stale
		rps, p50, p99 = append(rps, p.RPS), append(p50, p.P50), append(p99, p.P99)
	}
	m.RPS = Median(rps)
	m.P50, m.P99 = medianDuration(p50), medianDuration(p99)
	return m
}

func medianDuration(ds []time.Duration) time.Duration {
	f := make([]float64, len(ds))
	for i, d := range ds {
		f[i] = float64(d)
	}
	return time.Duration(Median(f))
}
