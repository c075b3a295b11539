package ws

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// The outbox's rules, as tables: each case feeds inputs to an outbox of
// "me" and lists the frames it gives out, in order, described by describe.

func ev(seq uint64) events.Event {
	return &events.AudioUpdate{Seq: seq, Participant: "other", AudioEnabled: seq%2 == 0, By: "other"}
}

func evs(seqs ...uint64) []events.Event {
	out := make([]events.Event, len(seqs))
	for i, s := range seqs {
		out[i] = ev(s)
	}
	return out
}

func applied(id string, seq uint64) wire.Result { return wire.Result{ID: id, Seq: seq} }

var (
	denied  = wire.Result{ID: "c", Err: core.Errorf(core.CodePermissionDenied, "no")}
	limited = wire.Result{ID: "r", Refused: wire.RefusedRateLimited}
)

// describe decodes a frame into a short line: "event 3", "result c seq=3
// events=3", "goodbye kicked".
func describe(t testing.TB, f outFrame) string {
	t.Helper()
	d, err := wire.DecodeFrame(f.b)
	if err != nil {
		t.Fatalf("frame %s: %v", f.b, err)
	}
	if (d.Type == wire.TypeGoodbye) != (f.bye != "") {
		t.Errorf("frame %s: marked goodbye %q", f.b, f.bye)
	}
	switch d.Type {
	case wire.TypeWelcome:
		return "welcome " + strconv.FormatUint(d.Welcome.Seq, 10)
	case wire.TypeEvent:
		return "event " + strconv.FormatUint(d.Event.Sequence(), 10)
	case wire.TypeGoodbye:
		return "goodbye " + string(d.Reason)
	case wire.TypeMediaClosed:
		if d.Media.Refused != "" {
			return "media_closed refused=" + string(d.Media.Refused)
		}
		return "media_closed"
	case wire.TypeResult:
		r := d.Result
		s := "result " + r.ID
		switch {
		case r.Refused != "":
			s += " refused=" + string(r.Refused)
		case r.Err != nil:
			s += " error=" + strconv.Itoa(int(r.Err.Code))
		default:
			s += " seq=" + strconv.FormatUint(r.Seq, 10)
		}
		if len(r.Events) > 0 {
			var seqs []string
			for _, e := range r.Events {
				seqs = append(seqs, strconv.FormatUint(e.Sequence(), 10))
			}
			s += " events=" + strings.Join(seqs, ",")
		}
		if r.Duplicate {
			s += " duplicate"
		}
		return s
	}
	return string(d.Type)
}

// drain writes every pending frame and describes them.
func drain(t testing.TB, o *outbox) []string {
	t.Helper()
	var out []string
	for {
		f, ok := o.Next()
		if !ok {
			return out
		}
		out = append(out, describe(t, f))
		o.Wrote()
	}
}

func TestOutboxOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(o *outbox)
		want []string
	}{{
		name: "welcome, then events in order, each once",
		run: func(o *outbox) {
			o.Event(ev(4))
			o.Event(ev(3)) // the client has it
			o.Event(ev(5))
		},
		want: []string{"welcome 3", "event 4", "event 5"},
	}, {
		name: "a result carries its command's events when the client has every event before",
		run: func(o *outbox) {
			o.Begin()
			o.Answer(applied("c", 4), evs(4))
			o.Event(ev(4)) // then the pump brings it: not sent again
			o.Event(ev(5))
		},
		want: []string{"welcome 3", "result c seq=4 events=4", "event 5"},
	}, {
		name: "events parked during a submit: the ones before the command's first, then the result, then the rest",
		run: func(o *outbox) {
			o.Begin()
			o.Event(ev(4))
			o.Event(ev(5)) // the command's
			o.Event(ev(6))
			o.Answer(applied("c", 5), evs(5))
		},
		want: []string{"welcome 3", "event 4", "result c seq=5 events=5", "event 6"},
	}, {
		name: "a result waits for the events before its command's, which come as event frames",
		run: func(o *outbox) {
			o.Begin()
			o.Answer(applied("c", 5), evs(5)) // 4 has not reached the pump yet
			o.Event(ev(4))
			o.Event(ev(5))
			o.Event(ev(6))
		},
		want: []string{"welcome 3", "event 4", "event 5", "result c seq=5", "event 6"},
	}, {
		name: "a command that changed nothing waits for the events before it",
		run: func(o *outbox) {
			o.Begin()
			o.Event(ev(4))
			o.Event(ev(5))
			o.Answer(applied("c", 4), nil)
		},
		want: []string{"welcome 3", "event 4", "result c seq=4", "event 5"},
	}, {
		name: "a rejection: every parked event first",
		run: func(o *outbox) {
			o.Begin()
			o.Event(ev(4))
			o.Answer(denied, nil)
		},
		want: []string{"welcome 3", "event 4", "result c error=1201"},
	}, {
		name: "results leave in the order of the commands: a refusal waits behind a held result",
		run: func(o *outbox) {
			o.Begin()
			o.Answer(applied("c", 5), evs(5))
			o.Reply(limited)
			o.Event(ev(4))
			o.Event(ev(5))
		},
		want: []string{"welcome 3", "event 4", "event 5", "result c seq=5", "result r refused=rate_limited"},
	}, {
		name: "a duplicate carries no events and waits for its seq",
		run: func(o *outbox) {
			o.Begin()
			o.Answer(wire.Result{ID: "d", Seq: 3, Duplicate: true}, nil)
			o.Begin()
			o.Answer(wire.Result{ID: "e", Seq: 4, Duplicate: true}, nil)
			o.Event(ev(4))
		},
		want: []string{"welcome 3", "result d seq=3 duplicate", "event 4", "result e seq=4 duplicate"},
	}, {
		name: "kicked: the event, then the goodbye, then nothing",
		run: func(o *outbox) {
			if !o.Event(&events.ParticipantLeft{Seq: 4, Participant: "other", Reason: events.ReasonKicked, By: "host"}) {
				panic("another's departure ended the connection")
			}
			if o.Event(&events.ParticipantLeft{Seq: 5, Participant: "me", Reason: events.ReasonKicked, By: "host"}) {
				panic("Event wants more after self was kicked")
			}
			o.Event(ev(6))
			o.Reply(limited)
			o.Signal(wire.Signal{Candidate: &wire.ICECandidate{Candidate: "c"}})
			o.MediaClosed(wire.MediaClosed{})
			if o.Begin() {
				panic("Begin after the goodbye")
			}
		},
		want: []string{"welcome 3", "event 4", "event 5", "goodbye kicked"},
	}, {
		name: "leave: the result carries the departure, then the goodbye",
		run: func(o *outbox) {
			o.Begin()
			o.Event(&events.ParticipantLeft{Seq: 4, Participant: "me", Reason: events.ReasonLeft, By: "me"})
			o.Event(ev(5))
			o.Answer(applied("c", 4), []events.Event{&events.ParticipantLeft{Seq: 4, Participant: "me", Reason: events.ReasonLeft, By: "me"}})
		},
		want: []string{"welcome 3", "result c seq=4 events=4", "goodbye left"},
	}, {
		name: "the session ended",
		run: func(o *outbox) {
			o.Event(&events.SessionEnded{Seq: 4, By: "host"})
		},
		want: []string{"welcome 3", "event 4", "goodbye ended"},
	}, {
		name: "a goodbye from outside waits for the answer of the command in flight",
		run: func(o *outbox) {
			o.Begin()
			o.Finish(wire.ReasonShutdown)
			o.Event(ev(4)) // after the goodbye was decided: dropped
			o.Answer(denied, nil)
		},
		want: []string{"welcome 3", "result c error=1201", "goodbye shutdown"},
	}, {
		name: "held results go before the goodbye: their events will not come",
		run: func(o *outbox) {
			o.Begin()
			o.Answer(applied("c", 5), evs(5))
			o.Finish(wire.ReasonReplaced)
		},
		want: []string{"welcome 3", "result c seq=5", "goodbye replaced"},
	}, {
		name: "the first goodbye decided is the one",
		run: func(o *outbox) {
			o.Finish(wire.ReasonReplaced)
			o.Finish(wire.ReasonShutdown)
			o.Finish(wire.ReasonSlow)
		},
		want: []string{"welcome 3", "goodbye replaced"},
	}, {
		name: "slow: what waits is dropped, the goodbye alone goes",
		run: func(o *outbox) {
			o.Event(ev(4))
			o.Begin()
			o.Answer(applied("c", 6), evs(6))
			o.Finish(wire.ReasonSlow)
		},
		want: []string{"goodbye slow"},
	}, {
		name: "media signalling keeps its place among the frames",
		run: func(o *outbox) {
			o.Signal(wire.Signal{Candidate: &wire.ICECandidate{Candidate: "c"}})
			o.Event(ev(4))
			o.MediaClosed(wire.MediaClosed{Refused: wire.RefusedUnavailable})
		},
		want: []string{"welcome 3", "signal", "event 4", "media_closed refused=unavailable"},
	}, {
		name: "an open media connection is closed just before the goodbye",
		run: func(o *outbox) {
			o.MediaOpen()
			o.MediaOpen() // replaced: no media_closed for the first
			o.Event(&events.ParticipantLeft{Seq: 4, Participant: "me", Reason: events.ReasonKicked, By: "host"})
		},
		want: []string{"welcome 3", "event 4", "media_closed", "goodbye kicked"},
	}, {
		name: "... after the answer of the command in flight",
		run: func(o *outbox) {
			o.MediaOpen()
			o.Begin()
			o.Finish(wire.ReasonReplaced)
			o.Answer(denied, nil)
		},
		want: []string{"welcome 3", "result c error=1201", "media_closed", "goodbye replaced"},
	}, {
		name: "... but not before slow",
		run: func(o *outbox) {
			o.MediaOpen()
			o.Finish(wire.ReasonSlow)
		},
		want: []string{"goodbye slow"},
	}, {
		name: "a media connection closed already is not closed again",
		run: func(o *outbox) {
			o.MediaOpen()
			o.MediaClosed(wire.MediaClosed{})
			o.Finish(wire.ReasonShutdown)
		},
		want: []string{"welcome 3", "media_closed", "goodbye shutdown"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			o := newOutbox("me", 100)
			o.Welcome(wire.Welcome{Seq: 3, Resumed: true}, false)
			c.run(&o)
			if d := cmp.Diff(c.want, drain(t, &o)); d != "" {
				t.Errorf("frames (-want +got):\n%s", d)
			}
		})
	}
}

func TestOutboxWelcome(t *testing.T) {
	o := newOutbox("me", 10)
	o.Welcome(wire.Welcome{Seq: 7, Resumed: true}, true)
	if d := cmp.Diff([]string{"welcome 7", "goodbye ended"}, drain(t, &o)); d != "" {
		t.Errorf("ended session (-want +got):\n%s", d)
	}
	// Replaced before the welcome was built: the goodbye alone.
	o = newOutbox("me", 10)
	o.Finish(wire.ReasonReplaced)
	o.Welcome(wire.Welcome{Seq: 7, Resumed: true}, false)
	if d := cmp.Diff([]string{"goodbye replaced"}, drain(t, &o)); d != "" {
		t.Errorf("replaced first (-want +got):\n%s", d)
	}
}

// The bound: everything waiting for the client counts, the frame being
// written too; held results stop only the reading of commands.
func TestOutboxBound(t *testing.T) {
	type room struct{ Event, Command bool }
	check := func(t *testing.T, o *outbox, want room, when string) {
		t.Helper()
		if got := (room{o.Room(), o.CommandRoom()}); got != want {
			t.Errorf("%s: room %+v, want %+v", when, got, want)
		}
	}
	o := newOutbox("me", 3)
	o.Welcome(wire.Welcome{Seq: 3, Resumed: true}, false)
	o.Event(ev(4))
	check(t, &o, room{true, true}, "two frames of 3")
	o.Event(ev(5))
	check(t, &o, room{false, false}, "three frames")
	o.Next()
	check(t, &o, room{false, false}, "one being written")
	o.Wrote()
	check(t, &o, room{true, true}, "one written")

	o.Begin()
	o.Event(ev(6)) // parked
	check(t, &o, room{false, false}, "two queued, one parked")
	o.Answer(applied("c", 8), evs(8)) // held: 7 has not come
	check(t, &o, room{false, false}, "three queued, one held")
	drain(t, &o)
	check(t, &o, room{true, false}, "none queued, an answer held")
	o.Event(ev(7))
	check(t, &o, room{true, false}, "one queued, an answer held")
	o.Event(ev(8)) // releases it
	check(t, &o, room{false, false}, "three queued")
	if d := cmp.Diff([]string{"event 7", "event 8", "result c seq=8"}, drain(t, &o)); d != "" {
		t.Errorf("released (-want +got):\n%s", d)
	}

	o.Finish(wire.ReasonShutdown)
	for range 5 {
		o.Event(ev(9))
	}
	check(t, &o, room{true, true}, "after the goodbye (nothing is taken)")
}

// The slow rule: a write timeout with frames waiting and none written.
func TestOutboxSlowRule(t *testing.T) {
	o := newOutbox("me", 10)
	if o.Clock() {
		t.Fatal("clock runs with nothing to write")
	}
	o.Welcome(wire.Welcome{Seq: 3, Resumed: true}, false)
	if !o.Clock() {
		t.Fatal("clock stopped with a frame waiting")
	}
	o.Next()
	o.Wrote()
	o.Event(ev(4))
	if got := o.Tick(); got != tickAgain {
		t.Fatalf("a frame written since the clock started: %v, want tickAgain", got)
	}
	if got := o.Tick(); got != tickAgain || o.Bye() != wire.ReasonSlow {
		t.Fatalf("nothing written for a tick: %v, goodbye %q; want tickAgain and slow", got, o.Bye())
	}
	if got := o.Tick(); got != tickDrop {
		t.Fatalf("the goodbye not taken either: %v, want tickDrop", got)
	}

	// A client that takes its frames is never slow; the clock stops when
	// nothing waits and starts afresh on the next frame.
	o = newOutbox("me", 10)
	o.Welcome(wire.Welcome{Seq: 3, Resumed: true}, false)
	for seq := uint64(4); seq < 10; seq++ {
		o.Event(ev(seq))
		o.Next() // one frame is taken between two ticks, one still waits
		o.Wrote()
		if got := o.Tick(); got != tickAgain || o.Bye() != "" {
			t.Fatalf("tick %d: %v, goodbye %q; want tickAgain and none", seq, got, o.Bye())
		}
	}
	drain(t, &o)
	if got := o.Tick(); got != tickIdle || o.Clock() {
		t.Fatalf("all written: %v, clock %v; want tickIdle, stopped", got, o.Clock())
	}
	o.Event(ev(10))
	if !o.Clock() || o.Tick() != tickAgain || o.Bye() != wire.ReasonSlow {
		t.Errorf("a frame untaken for a whole tick after idling: clock %v, goodbye %q", o.Clock(), o.Bye())
	}
	if d := cmp.Diff([]string{"goodbye slow"}, drain(t, &o)); d != "" {
		t.Errorf("frames (-want +got):\n%s", d)
	}

	// A goodbye decided otherwise, not taken: dropped.
	o = newOutbox("me", 10)
	o.Welcome(wire.Welcome{Seq: 3, Resumed: true}, false)
	o.Finish(wire.ReasonKicked)
	if got := o.Tick(); got != tickDrop {
		t.Errorf("welcome and goodbye untaken: %v, want tickDrop", got)
	}
}

// The queue reuses its array: frames written make room in it, in order.
func TestOutboxQueueReuse(t *testing.T) {
	o := newOutbox("me", 1000)
	o.Welcome(wire.Welcome{Seq: 0, Resumed: true}, false)
	drain(t, &o)
	seq, next := uint64(0), uint64(1)
	for range 1000 {
		for range 3 {
			seq++
			o.Event(ev(seq))
		}
		for range 3 {
			f, ok := o.Next()
			if !ok {
				t.Fatal("no frame")
			}
			if got, want := describe(t, f), fmt.Sprintf("event %d", next); got != want {
				t.Fatalf("%s, want %s", got, want)
			}
			o.Wrote()
			next++
		}
		o.Event(ev(seq + 1)) // one stays queued
		seq++
		f, _ := o.Next()
		o.Wrote()
		if got := describe(t, f); got != fmt.Sprintf("event %d", next) {
			t.Fatalf("%s, want event %d", got, next)
		}
		next++
	}
	if c := cap(o.frames); c > 16 {
		t.Errorf("queue grew to %d with at most 3 frames waiting", c)
	}
}

// TestOutboxModel checks the ordering rules over random interleavings of a
// session's events (the pump), the connection's own commands, refusals and
// writes: the client gets every event once in seq order, each result after
// its command's events and results in command order, and never more than
// a few frames beyond the bound when producers respect Room and
// CommandRoom.
func TestOutboxModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		limit := rapid.IntRange(1, 8).Draw(t, "limit")
		o := newOutbox("me", limit)
		var (
			log    uint64   // the session's last seq
			pumped uint64   // the last seq the pump handed over
			ids    []string // their ids
			n      int
		)
		o.Welcome(wire.Welcome{Seq: 0, Resumed: true}, false)
		var (
			got       []string
			lastEvent uint64
			answered  int
		)
		write := func() {
			f, ok := o.Next()
			if !ok {
				return
			}
			o.Wrote()
			d, err := wire.DecodeFrame(f.b)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			switch d.Type {
			case wire.TypeEvent:
				seqs = []uint64{d.Event.Sequence()}
			case wire.TypeResult:
				if answered >= len(ids) || d.Result.ID != ids[answered] {
					t.Fatalf("result %s, want %v[%d]", d.Result.ID, ids, answered)
				}
				for _, e := range d.Result.Events {
					seqs = append(seqs, e.Sequence())
				}
				if d.Result.Err == nil && d.Result.Refused == "" && d.Result.Seq > lastEvent && len(seqs) == 0 {
					t.Fatalf("result %s at seq %d before event %d", d.Result.ID, d.Result.Seq, d.Result.Seq)
				}
				answered++
			}
			for _, s := range seqs {
				if s != lastEvent+1 {
					t.Fatalf("event %d after %d (frames %v)", s, lastEvent, got)
				}
				lastEvent = s
			}
			if d.Type == wire.TypeResult && d.Result.Seq > lastEvent {
				t.Fatalf("result %s at seq %d, client has %d", d.Result.ID, d.Result.Seq, lastEvent)
			}
			got = append(got, string(d.Type))
		}
		t.Repeat(map[string]func(*rapid.T){
			"other's command": func(t *rapid.T) { log++ },
			"pump": func(t *rapid.T) {
				if pumped < log && o.Room() {
					pumped++
					o.Event(ev(pumped))
				}
			},
			"own command": func(t *rapid.T) {
				if !o.CommandRoom() {
					return
				}
				n++
				id := "c" + strconv.Itoa(n)
				o.Begin()
				for range rapid.IntRange(0, 2).Draw(t, "events pumped meanwhile") {
					if pumped < log && o.Room() {
						pumped++
						o.Event(ev(pumped))
					}
				}
				var res wire.Result
				var own []events.Event
				switch rapid.IntRange(0, 2).Draw(t, "outcome") {
				case 0:
					res = denied
					res.ID = id
				case 1:
					res = applied(id, log) // changed nothing
				default:
					k := rapid.IntRange(1, 2).Draw(t, "events")
					for range k {
						log++
						own = append(own, ev(log))
					}
					res = applied(id, log)
				}
				// the pump may have brought the command's own events meanwhile
				for range rapid.IntRange(0, 2).Draw(t, "own events pumped") {
					if pumped < log && o.Room() {
						pumped++
						o.Event(ev(pumped))
					}
				}
				o.Answer(res, own)
				ids = append(ids, id)
			},
			"refusal": func(t *rapid.T) {
				if !o.CommandRoom() {
					return
				}
				n++
				id := "r" + strconv.Itoa(n)
				o.Reply(wire.Result{ID: id, Refused: wire.RefusedRateLimited})
				ids = append(ids, id)
			},
			"write": func(t *rapid.T) { write() },
			"": func(t *rapid.T) {
				if w := o.waiting() + len(o.held); w > limit+2 || len(o.held) > 1 {
					t.Fatalf("%d waiting, bound %d", w, limit)
				}
			},
		})
		// The pump catches up and the client reads everything.
		for pumped < log {
			pumped++
			o.Event(ev(pumped))
			for o.Pending() {
				write()
			}
		}
		for o.Pending() {
			write()
		}
		if lastEvent != log || answered != len(ids) {
			t.Fatalf("client has events up to %d of %d, %d answers of %d", lastEvent, log, answered, len(ids))
		}
	})
}
