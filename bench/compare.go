package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Case is one operation at one concurrency: a line group of the comparison.
type Case struct {
	Name       string // "Find" or "Commit"
	Goroutines int
}

// Cases lists every case the comparison measures: Find and Commit, each at
// every Concurrency.
func Cases() []Case {
	var cases []Case
	for _, name := range []string{"Find", "Commit"} {
		for _, g := range Concurrency {
			cases = append(cases, Case{Name: name, Goroutines: g})
		}
	}
	return cases
}

// Op returns the operation of the case on store.
func (c Case) Op(sessions Sessions, store scs.Store) Op {
	if c.Name == "Commit" {
		return sessions.Commit(store)
	}
	return sessions.Find(store)
}

func (c Case) String() string { return fmt.Sprintf("%s/goroutines=%d", c.Name, c.Goroutines) }

// Measurement is one run of one store in one case.
type Measurement struct {
	Result testing.BenchmarkResult
	// CPU is the processor time used by all Ops operations of the run,
	// testing.Benchmark's shorter calibration runs included.
	CPU CPUTime
	Ops int
}

// ClientCPUPerOp and ServerCPUPerOp return the CPU time per operation in
// microseconds, of the client and of the server.
func (m Measurement) ClientCPUPerOp() float64 { return perOpMicros(m.CPU.Client, m.Ops) }

// ServerCPUPerOp: see ClientCPUPerOp.
func (m Measurement) ServerCPUPerOp() float64 { return perOpMicros(m.CPU.Server, m.Ops) }

// CPUPerOp is ClientCPUPerOp plus ServerCPUPerOp.
func (m Measurement) CPUPerOp() float64 { return m.ClientCPUPerOp() + m.ServerCPUPerOp() }

func perOpMicros(d time.Duration, ops int) float64 {
	if ops <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(ops)
}

// Comparison collects measurements of every store in every case over
// several rounds and reports medians side by side.
type Comparison struct {
	// ServerCPU says whether the measurements include the server's CPU
	// time (see CPUMeter).
	ServerCPU bool
	// Baseline is the store the ratios are taken to; SCS when empty.
	Baseline string
	// Order lists stores in the order the table shows them; stores not in
	// it follow, StoreNames first.
	Order []string

	runs  map[Case]map[string][]Measurement
	cases []Case
}

// Add records one run of store in case c.
func (cmp *Comparison) Add(c Case, store string, m Measurement) {
	if cmp.runs == nil {
		cmp.runs = map[Case]map[string][]Measurement{}
	}
	if cmp.runs[c] == nil {
		cmp.runs[c] = map[string][]Measurement{}
		cmp.cases = append(cmp.cases, c)
	}
	cmp.runs[c][store] = append(cmp.runs[c][store], m)
}

// OpsPerSec returns the throughput of a benchmark result.
func OpsPerSec(r testing.BenchmarkResult) float64 {
	if r.T <= 0 {
		return 0
	}
	return float64(r.N) / r.T.Seconds()
}

func opsPerSec(m Measurement) float64 { return OpsPerSec(m.Result) }

// Median returns the median of xs, or 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianOf applies f to every run and returns the median.
func medianOf(runs []Measurement, f func(Measurement) float64) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = f(r)
	}
	return Median(xs)
}

// roundRatios returns, round by round, the throughput of runs over that of
// base: the two ran back to back, so each ratio saw the same outside load.
func roundRatios(runs, base []Measurement) []float64 {
	var ratios []float64
	for i := range min(len(runs), len(base)) {
		if b := opsPerSec(base[i]); b > 0 {
			ratios = append(ratios, opsPerSec(runs[i])/b)
		}
	}
	return ratios
}

// WriteTable writes the comparison as a Markdown table: per case and store,
// the median throughput; its ratio to the baseline (SCS unless Baseline
// says otherwise), both as the ratio of
// the medians and as the median (and range) of the round-by-round ratios,
// which pair runs made back to back and so cancel slow drifts in outside
// load; the median CPU time per operation of client and server and how much
// less of it the store needs than scs; and the median time, allocations and
// bytes per operation.
func (cmp *Comparison) WriteTable(w io.Writer) error {
	baseline := cmp.baseline()
	var b strings.Builder
	fmt.Fprintf(&b, "| op | goroutines | store | runs | ops/s (median) | ratio of medians | per-round ratio: median (min–max) | CPU µs/op client + server | CPU ratio %s/store | ns/op | allocs/op | B/op |\n", baseline)
	b.WriteString("|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for _, c := range cmp.cases {
		base := cmp.runs[c][baseline]
		baseOps := medianOf(base, opsPerSec)
		baseCPU := medianOf(base, Measurement.CPUPerOp)
		for _, store := range cmp.stores(c) {
			runs := cmp.runs[c][store]
			ops := medianOf(runs, opsPerSec)
			ratio, perRound, cpuRatio := "", "", ""
			if baseOps > 0 {
				ratio = fmt.Sprintf("%.2fx", ops/baseOps)
			}
			if store != baseline {
				perRound = formatRatios(roundRatios(runs, base))
			}
			cpu := fmt.Sprintf("%.0f", medianOf(runs, Measurement.ClientCPUPerOp))
			if cmp.ServerCPU {
				cpu += fmt.Sprintf(" + %.0f", medianOf(runs, Measurement.ServerCPUPerOp))
				if c := medianOf(runs, Measurement.CPUPerOp); c > 0 {
					cpuRatio = fmt.Sprintf("%.2fx", baseCPU/c)
				}
			}
			fmt.Fprintf(&b, "| %s | %d | %s | %d | %.0f | %s | %s | %s | %s | %.0f | %.0f | %.0f |\n",
				c.Name, c.Goroutines, store, len(runs), ops, ratio, perRound, cpu, cpuRatio,
				medianOf(runs, func(m Measurement) float64 { return float64(m.Result.NsPerOp()) }),
				medianOf(runs, func(m Measurement) float64 { return float64(m.Result.AllocsPerOp()) }),
				medianOf(runs, func(m Measurement) float64 { return float64(m.Result.AllocedBytesPerOp()) }))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (cmp *Comparison) baseline() string {
	if cmp.Baseline != "" {
		return cmp.Baseline
	}
	return SCS
}

// stores returns the stores measured in case c, in the order of Order, then
// of StoreNames, then any others.
func (cmp *Comparison) stores(c Case) []string {
	var names []string
	for _, n := range append(slices.Clone(cmp.Order), StoreNames...) {
		if _, ok := cmp.runs[c][n]; ok && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for n := range cmp.runs[c] {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

func formatRatios(ratios []float64) string {
	if len(ratios) == 0 {
		return ""
	}
	s := slices.Clone(ratios)
	slices.Sort(s)
	return fmt.Sprintf("%.2fx (%.2f–%.2f)", Median(s), s[0], s[len(s)-1])
}
