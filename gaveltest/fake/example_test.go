package fake_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/sessionlog"
)

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

// The Go client dials a server in the process. In a test, NewServer(t,
// presets) starts it and stops it when the test ends.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := fake.Start(presets)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close(ctx)

	muted := make(chan client.AudioUpdate, 1)
	bob, err := client.Dial(ctx, srv.URL, srv.Token("room-1", "bob", "attendee"), client.WithName("Bob"),
		client.WithMedia(true, false), client.WithSetup(func(m *client.Meeting) {
			m.Self.OnAudioUpdate(func(u client.AudioUpdate) { muted <- u })
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()

	// The host comes through another instance of the service: straight to
	// the session.
	for _, cmd := range []core.Command{
		{ID: "h1", Type: core.Join, Actor: "hana", Name: "Hana", Preset: "host"},
		{ID: "h2", Type: core.DisableAudio, Actor: "hana", Target: "bob"},
	} {
		if _, err := srv.Manager.Submit(ctx, "room-1", cmd); err != nil {
			log.Fatal(err)
		}
	}
	select {
	case u := <-muted:
		fmt.Println("bob: audio", u.AudioEnabled, "by", u.By)
	case <-ctx.Done():
		log.Fatal("bob was never muted")
	}
	st, _ := srv.Manager.State(ctx, "room-1")
	fmt.Println("the session: seq", st.Seq(), "with", st.Len(), "joined")
	// Output:
	// bob: audio false by hana
	// the session: seq 3 with 2 joined
}

// service is the code under test: a service that submits its users'
// commands to gavel and tries again when gavel could not answer.
type service struct {
	m *session.Manager
	// newID is the bug to catch: a new command id for every attempt.
	newID bool
}

// do submits cmd to session room, and again, up to 10 times, while the
// failure is transient (the command may or may not have been decided).
func (s *service) do(ctx context.Context, room string, cmd core.Command) (session.Result, error) {
	id := cmd.ID
	for attempt := 1; ; attempt++ {
		if s.newID && attempt > 1 {
			cmd.ID = fmt.Sprintf("%s-retry%d", id, attempt)
		}
		res, err := s.m.Submit(ctx, room, cmd)
		if _, rejected := errors.AsType[*core.Error](err); err == nil || rejected || errors.Is(err, session.ErrPermanent) || attempt == 10 {
			return res, err
		}
	}
}

// checkRetry is the property: with faults injected into the store's
// appends in turn, the service's answers are the log's outcomes, one per
// command id, and the log is what the reducer decides.
func checkRetry(s gaveltest.Session, faults []fake.Fault, newID bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := fake.NewStore(session.NewMemStore())
	for i, f := range faults {
		st.Inject(i+1, f)
	}
	m, err := session.NewManager(st, session.WithPresets(s.Presets))
	if err != nil {
		return err
	}
	defer m.Close(ctx)
	svc := &service{m: m, newID: newID}
	var answers []gaveltest.Answer
	for _, cmd := range s.Commands {
		res, err := svc.do(ctx, s.ID, cmd)
		answers = append(answers, gaveltest.Answer{Command: cmd, Events: res.Events, Err: err})
	}
	h, err := st.Header(ctx, s.ID)
	if errors.Is(err, session.ErrNotFound) {
		return nil // every command failed check 1: no session
	} else if err != nil {
		return err
	}
	var recs []sessionlog.Record
	for r, err := range st.Records(ctx, s.ID, 1) {
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	if _, err := gaveltest.CheckRecords(h, recs, session.DefaultIdempotencyWindow); err != nil {
		return err
	}
	return gaveltest.CheckAnswers(recs, answers)
}

// faults draws the faults of a store's appends, mostly none.
var faults = rapid.SliceOfN(rapid.SampledFrom([]fake.Fault{fake.None, fake.None, fake.None, fake.Fail, fake.LoseReply,
	fake.Conflict, fake.TooLarge}), 0, 60)

// A service's retry loop is checked for one outcome per command id under
// faults: TestRetry runs checkRetry with rapid.Check, which shrinks a
// failure; here it runs on sessions and faults drawn as examples. Then the
// same with the bug of a new id for each attempt, on a session whose kick
// is stored but not acknowledged.
func Example_retry() {
	for seed := range 10 {
		if err := checkRetry(gaveltest.Sessions(presets).Example(seed), faults.Example(seed), false); err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println("one outcome per command id")

	kick := gaveltest.Session{ID: "room", Presets: presets, Commands: []core.Command{
		{ID: "c1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "host"},
		{ID: "c2", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee"},
		{ID: "c3", Type: core.Kick, Actor: "alice", Target: "bob"},
	}}
	fmt.Println(checkRetry(kick, []fake.Fault{fake.None, fake.None, fake.LoseReply}, true))
	// Output:
	// one outcome per command id
	// c3 was answered participant_not_found (1202); the log says [{"seq":3,"type":"participant_left","participant":"bob","reason":"kicked","by":"alice"}]
	// the log has c3-retry2, which nobody sent: participant_not_found (1202)
}
