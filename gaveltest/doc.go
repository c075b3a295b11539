// Package gaveltest is a kit for testing code against gavel's behaviour,
// as net/http/httptest and testing/fstest are for the standard library:
// generators of sessions for property-based tests with
// pgregory.net/rapid, and the invariants that every step of every session
// keeps, in one call. A service that embeds gavel uses it to test its own
// code (a UI model that mirrors the events, a mapping of its roles to
// presets, an extension that reads the log) on sessions it did not have to
// think of; gavel's own tests use it too.
//
// # A first property test
//
// A property test runs your code on many generated sessions and checks
// something that must hold on every one. Here, that a UI model fed the
// events shows what gavel's own client view shows:
//
//	func TestRoster(t *testing.T) {
//		presets := core.Presets{"teacher": {DisableParticipantAudio: true, KickParticipant: true}, "student": {}}
//		rapid.Check(t, func(t *rapid.T) {
//			session := gaveltest.Sessions(presets).Draw(t, "session")
//			steps, err := session.Play() // the reducer, gavel's invariants checked at every step
//			if err != nil {
//				t.Fatal(err)
//			}
//			r, v := newRoster("alice"), view.New("alice", session.Start()) // your code, and gavel's
//			for _, st := range steps {
//				for _, e := range st.Events {
//					r.apply(e)
//					v, _ = v.Apply(e)
//				}
//				if err := r.agrees(v); err != nil {
//					t.Fatalf("after %+v: %v", st.Command, err)
//				}
//			}
//		})
//	}
//
// rapid runs the function on 100 sessions (-rapid.checks=N for more).
// When it fails, rapid shrinks the failing session to a short one that
// still fails and prints it, with %#v, as the Go expression that builds
// it, one command a line:
//
//	[rapid] draw session: gaveltest.Session{ID: "room", Presets: core.Presets{…}, Commands: []core.Command{
//		{ID: "c1", Type: "join", Actor: "alice", Name: "Alice", Preset: "teacher", Audio: true},
//		{ID: "c2", Type: "disable_all_audio", Actor: "alice"},
//	}}
//
// It saves the failure under testdata/rapid/ and prints the flag that
// replays it (-rapid.failfile=…). To keep it as a regression, have [Record]
// write the session as a session log when the property fails (rapid runs
// the shrunk session last, so the file holds that one), and run the file
// with [RunLog], which returns the session for the property to run on
// again (see Transcripts). The examples Example (a roster, the test above
// in full) and Example_permissions (a service's roles checked against
// gavel's permission checks) are such tests, run by go test.
//
// # Generators
//
// [Sessions] draws whole sessions: the presets (given, or drawn by
// [Presets]), a run of joins, then commands of three sorts: valid ones as
// [Command] draws them, refused ones as [Refusal] draws them, and now and
// then any command at all (any type, types that do not exist too, every
// field drawn whether the type reads it or not). [Session.Play] runs one
// through the reducer and checks it; [Session.Start] is its first state.
//
// [Command] draws a command the reducer accepts in a given state, favouring
// what moderation is about: host actions (disable one or everyone, pin,
// kick), pins that move, kicks and departures of the pinned participant,
// rejoins, and commands that succeed and change nothing. [Refusal] draws
// one the reducer must reject, with the code it must reject it with, one
// check of SPEC §2 at a time: malformed (unknown type, empty id or actor,
// no target, each string not valid UTF-8 or one byte over its limit),
// session_ended, already_joined, unknown_preset, not_joined,
// permission_denied, participant_not_found, and a kick of oneself. Both
// suit a state-machine test (rapid's T.Repeat) over a session you keep,
// with ids from [CommandID]:
//
//	t.Repeat(map[string]func(*rapid.T){
//		"command": func(t *rapid.T) { n++; do(gaveltest.Command(chk.State(), gaveltest.CommandID(n)).Draw(t, "command")) },
//		"refusal": func(t *rapid.T) { n++; do(gaveltest.Refusal(chk.State(), gaveltest.CommandID(n)).Draw(t, "refusal").Command) },
//	})
//
// Shrunk sessions stay readable because every choice is a draw, labelled,
// among fixed options, and shrinks towards the first: participants are
// alice, bob, carol, … zoë (sixteen, in that order; they join with the
// names Alice, Bob, …), and ghost and nobody, who never join; presets are
// named after what they grant ("host" for everything, "attendee" for
// nothing, else "audio+pin" and the like); commands are numbered c1, c2, …
// An actor or a target is drawn as a place in that fixed pool, so the same
// draw names the same participant while the session around it shrinks.
//
// [Clients] draws what several clients send at once, each its own commands
// in order, for tests of concurrency (racing submitters, instances sharing
// a log, retries), where the order is the runtime's to choose.
//
// [SessionFromBytes] makes the same choices from bytes, for a native fuzz
// target:
//
//	func FuzzMySessions(f *testing.F) {
//		f.Fuzz(func(t *testing.T, data []byte) {
//			session := gaveltest.SessionFromBytes(nil, data)
//			…
//		})
//	}
//
// # Invariants
//
// A [Checker] follows a session, and its Step, called after each command
// with what the command produced (events and new state, or the error), returns
// every invariant the step breaks:
//
//   - the outcome is the reducer's (for your own system under test: it
//     behaves as gavel does), and deciding the command again gives it again;
//   - a rejected command is a *core.Error with a known code, produces no
//     event and changes nothing;
//   - events are numbered on from the previous seq with no gap, and the
//     state's seq is the last event's;
//   - every event names the command's actor as "by", and nobody turns on
//     another's audio or video;
//   - a disable-all event counts the participants whose medium was on (more
//     than none);
//   - folding every event of the session so far, one at a time and all at
//     once, gives the state;
//   - at most one participant is pinned, the pinned one is joined, and a
//     client never sees a second pinned; an ended session has nobody;
//   - the client view of every participant (package view) built from the
//     events agrees with the state, with "by" and the counts of bulk
//     events, and tells a participant removed why (see [CheckView], which
//     also serves views built otherwise).
//
// # Transcripts
//
// A session log (gavel-log/2, SPEC §4) is a test of its own. [RunLog] runs
// a log file, a script of commands or a recorded log, through the reducer
// and the Checker, and fails at the first line that diverges, with the
// file and line, the command as written, and a diff of what the log
// recorded against what gavel does now:
//
//	testdata/roster.jsonl:5: {"id":"c4","type":"disable_all_audio","actor":"alice"}: the recorded outcome differs from the reducer's:
//	  "events"[0]:
//	-   "count": 1
//	+   "count": 2
//
// [Session.WriteLog] writes a session as such a log, [Record] does it when
// a test fails, and [CheckLog] is RunLog without a test.
//
// # Logs, answers and streams
//
// A service that runs gavel's runtime checks what it produced against the
// reducer: [CheckRecords] checks a session's log as a store keeps it (every
// record the reducer's decision at its place, no command id twice within
// the idempotency window), [CheckAnswers] checks what callers were told
// against it (one outcome per command id, retries included: an [Answer]
// per attempt), and [CheckEvents] checks what a subscriber or a client
// received after a state (each event once, in order, folding to the state
// now). [CheckView] checks a client's view. [CheckHistory] checks a
// recorded history of concurrent calls ([Call]: an Answer with when it was
// sent and answered) with porcupine: linearizable against the reducer,
// a call never answered counting only if the log holds it. Package gaveltest/fake runs the
// runtime and the websocket transport in the test, with faults.
//
// # What it depends on
//
// Package gaveltest imports core, events, reducer, view, sessionlog, rapid,
// go-cmp (for readable diffs), porcupine and the standard library (testing among it),
// and neither a runtime nor a transport:
// it runs in any test, the transports' own too, and no gavel package that
// is not a test imports it. Its fakes, which need the runtime and the
// websocket transport, are package gaveltest/fake.
package gaveltest
