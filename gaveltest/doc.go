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
// replays it (-rapid.failfile=…); the printed session pasted into a test
// keeps it as a regression. The examples Example (a roster, the test
// above in full) and Example_permissions (a service's roles checked
// against gavel's permission checks) are such tests, run by go test.
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
// # What it depends on
//
// Package gaveltest imports core, events, reducer, view, rapid and go-cmp
// (for readable diffs), and neither a runtime nor a transport: it runs in
// any test, and no gavel package that is not a test imports it. A fake
// server, which needs the runtime and the websocket transport, belongs in
// a package of its own beside it.
package gaveltest
