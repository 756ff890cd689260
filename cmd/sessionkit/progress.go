package main

import (
	"fmt"
	"io"
	"time"
)

// progress shows how a long operation is going: on a terminal, one line
// rewritten in place at most ten times a second; otherwise a plain line at
// most every plainEvery, so that a log collects a few lines, not thousands.
type progress struct {
	w     io.Writer
	tty   bool
	verb  string // "deleted", "upgraded"
	start time.Time
	last  time.Time // when a line was last shown
	shown bool      // a terminal line is showing

	done, statements int64
}

const (
	ttyEvery   = 100 * time.Millisecond
	plainEvery = 5 * time.Second
)

func newProgress(w io.Writer, tty bool, verb string) *progress {
	now := time.Now()
	return &progress{w: w, tty: tty, verb: verb, start: now, last: now}
}

// update records that a statement or batch has ended with done rows so far.
func (p *progress) update(done int64) {
	p.done = done
	p.statements++
	every := plainEvery
	if p.tty {
		every = ttyEvery
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	line := fmt.Sprintf("%s %s rows so far (%s, %v)", p.verb, thousands(p.done), plural(int(p.statements), p.unit()), p.elapsed())
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// unit is what update counts: a DELETE statement, or a batch of rows read.
func (p *progress) unit() string {
	if p.verb == "deleted" {
		return "statement"
	}
	return "batch"
}

// end clears the terminal line, so that the summary stands alone.
func (p *progress) end() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

func (p *progress) elapsed() time.Duration {
	return time.Since(p.start).Round(time.Millisecond)
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
