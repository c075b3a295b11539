package filestore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/filestore"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

// idleSessions is how many idle sessions BenchmarkIdleSessions holds.
const idleSessions = 10_000

// BenchmarkIdleSessions holds 10,000 idle sessions in one process, each with
// 5 participants and 1 subscriber waiting for events, and reports the heap
// in use (after a collection) and the process's resident set, per variant:
//
//	raw     the baseline: per session, one owner goroutine waiting on a
//	        channel and one subscriber goroutine waiting on another
//	memory  gavel sessions on the memory store
//	file    gavel sessions on the file store, opened (created) from an empty
//	        directory: the time to open them all is reported too, beside
//	        the raw loop that creates 10,000 files with a header line each
//
// Each variant runs in a child process of its own, so that its resident set
// is its own.
//
//	go test -run '^$' -bench BenchmarkIdleSessions -benchtime 1x ./session/filestore
func BenchmarkIdleSessions(b *testing.B) {
	if v := os.Getenv("GAVEL_IDLE_VARIANT"); v != "" {
		idleChild(b, v)
		return
	}
	for _, v := range []string{"raw", "memory", "file", "raw-files"} {
		b.Run(v, func(b *testing.B) {
			for range b.N {
				cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkIdleSessions$", "-test.benchtime=1x")
				cmd.Env = append(os.Environ(), "GAVEL_IDLE_VARIANT="+v, "GAVEL_IDLE_DIR="+b.TempDir())
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%s: %v\n%s", v, err, out)
				}
				for _, m := range parseMetrics(b, out) {
					b.ReportMetric(m.value, m.unit)
				}
			}
		})
	}
}

type metric struct {
	value float64
	unit  string
}

// parseMetrics reads the "metric VALUE UNIT" lines a child printed.
func parseMetrics(b *testing.B, out []byte) []metric {
	var ms []metric
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "metric" {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				b.Fatal(err)
			}
			ms = append(ms, metric{v, f[2]})
		}
	}
	if len(ms) == 0 {
		b.Fatalf("no metrics in\n%s", out)
	}
	return ms
}

// idleChild builds the variant's sessions and prints its metrics.
func idleChild(b *testing.B, variant string) {
	ctx := context.Background()
	dir := os.Getenv("GAVEL_IDLE_DIR")
	var keep []any // what must stay reachable until measured
	start := time.Now()
	switch variant {
	case "raw":
		for range idleSessions {
			owner, sub := make(chan struct{}), make(chan struct{})
			go func() {
				for range owner {
				}
			}()
			go func() {
				for range sub {
				}
			}()
			keep = append(keep, owner, sub)
		}
	case "raw-files":
		h := append(sessionlog.AppendHeader(nil, sessionlog.Header{Session: "s", Presets: storetest.Presets}), '\n')
		for i := range idleSessions {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%d.jsonl", i)), h, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	default:
		var st session.Store = session.NewMemStore()
		if variant == "file" {
			fs, err := filestore.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer fs.Close()
			st = fs
		}
		m, err := session.NewManager(st, session.WithPresets(storetest.Presets), session.WithIdleTimeout(0))
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close(ctx)
		for i := range idleSessions {
			if _, err := m.Session(ctx, fmt.Sprintf("s%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		opened := time.Since(start)
		fmt.Printf("metric %g ms-to-open\n", float64(opened.Microseconds())/1000)
		for i := range idleSessions {
			id := fmt.Sprintf("s%d", i)
			for j := range 5 {
				p := fmt.Sprintf("p%d", j)
				if _, err := m.Submit(ctx, id, core.Command{ID: "j" + p, Type: core.Join, Actor: p, Name: p, Preset: "attendee", Audio: true}); err != nil {
					b.Fatal(err)
				}
			}
			sub, err := m.Subscribe(ctx, id, 5)
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				_, _ = sub.Next(ctx) // waits until the manager closes
			}()
			keep = append(keep, sub)
		}
	}
	if variant == "raw-files" {
		fmt.Printf("metric %g ms-to-open\n", float64(time.Since(start).Microseconds())/1000)
	}
	// As an idle process does over a few of its periodic collections: each
	// halves the stacks that use little of theirs, then memory goes back to
	// the operating system.
	for range 3 {
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("metric %g heap-MiB\n", float64(ms.HeapInuse)/(1<<20))
	fmt.Printf("metric %g stack-MiB\n", float64(ms.StackInuse)/(1<<20))
	fmt.Printf("metric %g rss-MiB\n", rssMiB(b))
	fmt.Printf("metric %d goroutines\n", runtime.NumGoroutine())
	runtime.KeepAlive(keep)
}

// rssMiB is the process's resident set (VmRSS), in MiB.
func rssMiB(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
