package bench

import (
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestWriteTableShowsRatioToSCS(t *testing.T) {
	var cmp Comparison
	c := Case{Name: "Find", Goroutines: 1}
	for _, ops := range []int{1000, 1100, 900} {
		cmp.Add(c, SCS, Measurement{Result: testing.BenchmarkResult{N: ops, T: time.Second}})
		cmp.Add(c, Sessionkit, Measurement{Result: testing.BenchmarkResult{N: 2 * ops, T: time.Second}})
	}
	var b strings.Builder
	if err := cmp.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| Find | 1 | scs | 3 | 1000 | 1.00x |", "| Find | 1 | sessionkit | 3 | 2000 | 2.00x | 2.00x (2.00–2.00) |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSessionsLookLikeSCSs(t *testing.T) {
	s := NewSessions(3, SessionSize)
	for i, tok := range s.Tokens {
		if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
			t.Errorf("token %q: want 43 base64url characters", tok)
		}
		if len(s.Data[i]) != SessionSize {
			t.Errorf("data %d: %d bytes; want %d", i, len(s.Data[i]), SessionSize)
		}
	}
}
