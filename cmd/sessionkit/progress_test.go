package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestProgressRewritesOneLineOnATerminal(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, true, "deleted")
	p.update(1000) // too soon after the start: not shown
	if out.Len() != 0 {
		t.Fatalf("progress shown at once: %q", out.String())
	}
	p.last = time.Now().Add(-time.Second)
	p.update(2500)
	if got, want := out.String(), "\r\033[Kdeleted 2,500 rows so far (2 statements, "; !strings.HasPrefix(got, want) || strings.Contains(got, "\n") {
		t.Errorf("terminal progress = %q, want %q... on one line", got, want)
	}
	out.Reset()
	p.end()
	if out.String() != "\r\033[K" {
		t.Errorf("end = %q, want the line cleared", out.String())
	}
}

func TestProgressWritesPlainLinesElsewhere(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, false, "upgraded")
	p.last = time.Now().Add(-time.Second)
	p.update(10) // within plainEvery: not shown
	p.last = time.Now().Add(-plainEvery)
	p.update(1234567)
	if got, want := out.String(), "upgraded 1,234,567 rows so far (2 batches, "; !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ")\n") || strings.Contains(got, "\r") {
		t.Errorf("plain progress = %q, want one line starting %q", got, want)
	}
	out.Reset()
	p.end()
	if out.Len() != 0 {
		t.Errorf("end wrote %q without a terminal", out.String())
	}
}

func TestIsTerminalIsFalseForAPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Error("isTerminal(pipe) = true")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
