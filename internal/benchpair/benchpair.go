// Package benchpair times an operation against its raw baseline in one
// benchmark, alternately, so that both see the same machine: the
// project's machines are shared and noisy, and only a ratio taken in one
// run means anything (BENCHMARKS.md).
//
// Package benchpair imports only the standard library (and testing).
package benchpair

import (
	"slices"
	"syscall"
	"testing"
	"time"
)

// Block is how many operations of one kind run in a row. Blocks keep the
// work an operation leaves behind (goroutines finishing after the answer)
// from landing in the other's timings more than once a block.
const Block = 32

// Paired runs raw and gavel alternately, in blocks of Block, b.N times in
// all, and reports the median of each (raw-ns/op, gavel-ns/op) and their
// ratio.
func Paired(b *testing.B, raw, gavel func()) { paired(b, raw, gavel, false) }

// PairedCPU is Paired, and also reports the process's CPU time (user and
// system, all goroutines) per operation of each kind (raw-cpu-ns/op,
// gavel-cpu-ns/op) and their ratio (cpu-ratio): the work each costs,
// which other processes' load changes less than it changes wall time. A
// getrusage call brackets every operation: for operations of a
// millisecond or more.
func PairedCPU(b *testing.B, raw, gavel func()) { paired(b, raw, gavel, true) }

func paired(b *testing.B, raw, gavel func(), cpu bool) {
	var (
		tr, tg []time.Duration
		cr, cg time.Duration
	)
	timed := func(f func(), into *[]time.Duration, used *time.Duration) {
		var c0 time.Duration
		if cpu {
			c0 = cpuTime()
		}
		t0 := time.Now()
		f()
		*into = append(*into, time.Since(t0))
		if cpu {
			*used += cpuTime() - c0
		}
	}
	for i := 0; b.Loop(); i++ {
		if i/Block%2 == 0 {
			timed(raw, &tr, &cr)
		} else {
			timed(gavel, &tg, &cg)
		}
	}
	if len(tg) == 0 {
		timed(gavel, &tg, &cg)
	}
	mr, mg := Median(tr), Median(tg)
	b.ReportMetric(float64(mr.Nanoseconds()), "raw-ns/op")
	b.ReportMetric(float64(mg.Nanoseconds()), "gavel-ns/op")
	b.ReportMetric(float64(mg)/float64(mr), "ratio")
	if cpu {
		pr, pg := float64(cr)/float64(len(tr)), float64(cg)/float64(len(tg))
		b.ReportMetric(pr, "raw-cpu-ns/op")
		b.ReportMetric(pg, "gavel-cpu-ns/op")
		b.ReportMetric(pg/pr, "cpu-ratio")
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Median returns the median of ds, which it sorts.
func Median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
