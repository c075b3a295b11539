package gaveltest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// TestCheckHistory: a history whose answers one sequential order explains
// passes, overlapping calls in either order; one whose answers no order
// explains fails; an unanswered call counts only if the log holds it.
func TestCheckHistory(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the failures' drawings go with the test
	presets := core.Presets{"host": {KickParticipant: true}, "attendee": {}}
	h := sessionlog.Header{Session: "room", Presets: presets}
	joinA := core.Command{ID: "a1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "host"}
	joinB := core.Command{ID: "b1", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee"}
	kick := core.Command{ID: "a2", Type: core.Kick, Actor: "alice", Target: "bob"}
	s0 := core.NewState("room", presets)
	s1, evA, _ := reducer.Apply(s0, joinA)
	s2, evB, _ := reducer.Apply(s1, joinB)
	_, evK, _ := reducer.Apply(s2, kick)
	rec := func(c core.Command, evs []events.Event) sessionlog.Record {
		return sessionlog.Record{Command: c, Events: evs}
	}
	recs := []sessionlog.Record{rec(joinA, evA), rec(joinB, evB), rec(kick, evK)}
	call := func(client int, c core.Command, evs []events.Event, err error, start, end int) Call {
		return Call{Answer: Answer{Command: c, Events: evs, Err: err}, Client: client,
			Start: time.Duration(start), End: time.Duration(end)}
	}
	lost := errors.New("no answer")
	seqOnly := func(c Call, seq uint64) Call {
		c.Events, c.Seq, c.EventsElsewhere = nil, seq, true
		return c
	}
	for _, tc := range []struct {
		name  string
		calls []Call
		ok    bool
		stats HistoryStats
	}{
		{"sequential", []Call{call(0, joinA, evA, nil, 0, 1), call(1, joinB, evB, nil, 2, 3), call(0, kick, evK, nil, 4, 5)}, true, HistoryStats{Calls: 3}},
		// The kick overlaps bob's join: it may have come after it.
		{"overlapping", []Call{call(0, joinA, evA, nil, 0, 1), call(0, kick, evK, nil, 2, 5), call(1, joinB, evB, nil, 3, 4)}, true, HistoryStats{Calls: 3}},
		// The kick ended before bob's join began: it cannot have found bob.
		{"kick before the join", []Call{call(0, joinA, evA, nil, 0, 1), call(0, kick, evK, nil, 2, 3), call(1, joinB, evB, nil, 4, 5)}, false, HistoryStats{Calls: 3}},
		// Bob's join was never answered but is in the log: it took place.
		{"unanswered, logged", []Call{call(0, joinA, evA, nil, 0, 1), call(1, joinB, nil, lost, 2, 3), call(0, kick, evK, nil, 4, 5)}, true, HistoryStats{Calls: 3, Unanswered: 1}},
		// Bob's join answered by its seq alone (its events came otherwise).
		{"seq only", []Call{call(0, joinA, evA, nil, 0, 1), seqOnly(call(1, joinB, evB, nil, 2, 3), 2)}, true, HistoryStats{Calls: 2}},
		{"wrong seq", []Call{call(0, joinA, evA, nil, 0, 1), seqOnly(call(1, joinB, evB, nil, 2, 3), 3)}, false, HistoryStats{Calls: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := CheckHistory(h, recs, tc.calls)
			if (err == nil) != tc.ok || st != tc.stats {
				t.Errorf("CheckHistory = %+v, %v; want ok %v, %+v", st, err, tc.ok, tc.stats)
			}
			if err != nil && !strings.Contains(err.Error(), "not linearizable") {
				t.Errorf("error %v does not say why", err)
			}
		})
	}
	// Not in the log, an unanswered call is left out.
	st, err := CheckHistory(h, recs[:1], []Call{call(0, joinA, evA, nil, 0, 1), call(1, joinB, nil, lost, 2, 3)})
	if err != nil || st != (HistoryStats{Calls: 1, Dropped: 1}) {
		t.Errorf("CheckHistory = %+v, %v; want the unlogged call dropped", st, err)
	}
}
