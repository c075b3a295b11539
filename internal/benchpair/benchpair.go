// Package benchpair times an operation against its raw baseline in one
// benchmark, alternately, so that both see the same machine: the
// project's machines are shared and noisy, and only a ratio taken in one
// run means anything (BENCHMARKS.md).
//
// Package benchpair imports only the standard library (and testing).
package benchpair

import (
	"slices"
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
func Paired(b *testing.B, raw, gavel func()) {
	var tr, tg []time.Duration
	timed := func(f func(), into *[]time.Duration) {
		t0 := time.Now()
		f()
		*into = append(*into, time.Since(t0))
	}
	for i := 0; b.Loop(); i++ {
		if i/Block%2 == 0 {
			timed(raw, &tr)
		} else {
			timed(gavel, &tg)
		}
	}
	if len(tg) == 0 {
		timed(gavel, &tg)
	}
	mr, mg := Median(tr), Median(tg)
	b.ReportMetric(float64(mr.Nanoseconds()), "raw-ns/op")
	b.ReportMetric(float64(mg.Nanoseconds()), "gavel-ns/op")
	b.ReportMetric(float64(mg)/float64(mr), "ratio")
}

// Median returns the median of ds, which it sorts.
func Median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
