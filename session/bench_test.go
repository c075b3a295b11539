package session_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
)

// BenchmarkSubmit compares Submit on the memory store with the bare
// reducer.Apply it wraps, on the same commands: the host of a session of 10
// turns its audio off and on, one event a command.
//
//	go test -run '^$' -bench BenchmarkSubmit -benchmem -count 5 ./session
func BenchmarkSubmit(b *testing.B) {
	cmd := func(i int) core.Command {
		return core.Command{ID: strconv.Itoa(i), Type: core.SetAudio, Actor: "p0", Enabled: i%2 == 1}
	}
	joins := func(yield func(core.Command) bool) {
		for p := range 10 {
			if !yield(joinCmd("j"+strconv.Itoa(p), "p"+strconv.Itoa(p), "host")) {
				return
			}
		}
	}
	b.Run("Apply", func(b *testing.B) {
		st := core.NewState("bench", presets)
		for c := range joins {
			st, _, _ = reducer.Apply(st, c)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			var err error
			if st, _, err = reducer.Apply(st, cmd(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Submit/mem", func(b *testing.B) {
		s, err := session.Open(context.Background(), "bench", session.NewMemStore(), session.WithPresets(presets))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close(context.Background())
		ctx := context.Background()
		for c := range joins {
			if _, err := s.Submit(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Submit(ctx, cmd(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkWebinar runs storetest.Webinar, 100,000 participants, on the
// memory store and reports how long its steps took.
//
//	go test -run '^$' -bench BenchmarkWebinar -benchtime 1x ./session
func BenchmarkWebinar(b *testing.B) {
	for b.Loop() {
		st := session.NewMemStore()
		storetest.Webinar(b, 100_000, func(testing.TB) (session.Store, func()) { return st, func() {} }).Report(b)
	}
}
