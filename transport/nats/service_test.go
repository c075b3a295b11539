package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	gonats "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
)

// TestBadInput sends what a broken or hostile publisher might on the command
// subjects: each is answered with invalid_command, nothing reaches the log
// (no record, no session created), and the service goes on serving.
func TestBadInput(t *testing.T) {
	n := startNode(t, WithEmbeddedServer(embeddedServer(t)), WithSessionOptions(session.WithPresets(presets)))
	nc := connect(t, n.URL())
	long := `{"id":"1","type":"join","actor":"a","name":"` + strings.Repeat("x", DefaultMaxCommand) + `","preset":"host"}`
	for _, tc := range []struct {
		name, subject, data string
	}{
		{"not JSON", "gavel.cmd.room-1", "mute everyone"},
		{"not an object", "gavel.cmd.room-1", `["join"]`},
		{"empty", "gavel.cmd.room-1", ``},
		{"unknown type", "gavel.cmd.room-1", `{"id":"1","type":"explode","actor":"a"}`},
		{"no id", "gavel.cmd.room-1", `{"type":"leave","actor":"a"}`},
		{"no actor", "gavel.cmd.room-1", `{"id":"1","type":"leave"}`},
		{"no target", "gavel.cmd.room-1", `{"id":"1","type":"kick","actor":"a"}`},
		{"wrong JSON type", "gavel.cmd.room-1", `{"id":"1","type":"set_audio","actor":"a","enabled":"yes"}`},
		{"oversized", "gavel.cmd.room-1", long},
		{"session token with a bad escape", "gavel.cmd.room%ZZ", `{"id":"1","type":"leave","actor":"a"}`},
		{"session token not canonical", "gavel.cmd.room%2e1", `{"id":"1","type":"leave","actor":"a"}`},
		{"session token escaping a plain byte", "gavel.cmd.%41", `{"id":"1","type":"leave","actor":"a"}`},
		{"two session tokens", "gavel.cmd.room.1", `{"id":"1","type":"leave","actor":"a"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := nc.Request(tc.subject, []byte(tc.data), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeReply(m.Data)
			var cerr *core.Error
			if !errors.As(err, &cerr) || cerr.Code != core.CodeInvalidCommand {
				t.Fatalf("reply %s: want invalid_command", m.Data)
			}
		})
	}
	// A command nobody waits for is not applied.
	if err := nc.Publish("gavel.cmd.room-1", []byte(`{"id":"x","type":"join","actor":"a","name":"A","preset":"host"}`)); err != nil {
		t.Fatal(err)
	}

	// Still serving, and the log holds only what this command wrote.
	s := newScript("room-1", classroom[:1])
	submitScript(t, n.Client(), "room-1", s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(testwait.Context(t), DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(testwait.Context(t), jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"gavel.head.room-1": 1, "gavel.log.room-1": 1}
	if diff := cmp.Diff(want, info.State.Subjects); diff != "" {
		t.Errorf("stream subjects (-want +got):\n%s", diff)
	}
}

// TestReplyCodec round-trips the replies and refuses what is not one.
func TestReplyCodec(t *testing.T) {
	s := newScript("room-1", classroom)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, res := range []session.Result{
		{Events: s.events[7], Seq: 9, At: at},
		{Seq: 9, At: at, Duplicate: true},
		{Seq: 0},
	} {
		b := appendReply(nil, res, nil)
		fast, ok := decodeApplied(b)
		if !ok {
			t.Errorf("decodeApplied(%s) failed", b)
		}
		slow, err := decodeReplyJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []session.Result{fast, slow} {
			if got.Seq != res.Seq || !got.At.Equal(res.At) || got.Duplicate != res.Duplicate || jsonOf(got.Events) != jsonOf(res.Events) {
				t.Errorf("round trip of %+v gave %+v", res, got)
			}
		}
	}
	// Fields in another order: the generic path.
	got, err := decodeReply([]byte(`{"events":` + jsonOf(s.events[0]) + `,"duplicate":true,"seq":1}`))
	if err != nil || got.Seq != 1 || !got.Duplicate || jsonOf(got.Events) != jsonOf(s.events[0]) {
		t.Errorf("reordered reply: %+v, %v", got, err)
	}
	rej := core.Errorf(core.CodePermissionDenied, "attendee may not kick")
	got, err = decodeReply(appendReply(nil, session.Result{Duplicate: true}, rej))
	if !errors.Is(err, core.ErrPermissionDenied) || !got.Duplicate {
		t.Errorf("rejection: %+v, %v", got, err)
	}
	if _, err := decodeReply(appendReply(nil, session.Result{}, session.ErrConflict)); !errors.Is(err, ErrUnavailable) || errors.Is(err, session.ErrPermanent) {
		t.Errorf("failure: err = %v, want ErrUnavailable", err)
	}
	// A permanent failure is not ErrUnavailable: the client does not retry it.
	tooLarge := fmt.Errorf("session %q: command %q: %w", "room-1", "c1", session.ErrTooLarge)
	if b := appendReply(nil, session.Result{}, tooLarge); !strings.Contains(string(b), `"permanent":"too_large"`) {
		t.Errorf("appendReply(%v) = %s", tooLarge, b)
	} else if _, err := decodeReply(b); !errors.Is(err, session.ErrTooLarge) || !errors.Is(err, session.ErrPermanent) || errors.Is(err, ErrUnavailable) {
		t.Errorf("decodeReply(%s) = %v, want ErrTooLarge", b, err)
	}
	if _, err := decodeReply([]byte(`{"permanent":"worn_out","failure":"no"}`)); !errors.Is(err, session.ErrPermanent) || errors.Is(err, session.ErrTooLarge) {
		t.Errorf("another permanent failure: %v", err)
	}
	for _, b := range []string{``, `[]`, `{}`, `{"seq":"1"}`, `{"error":{}}`, `{"seq":1,"events":[{"type":"nope"}]}`,
		`{"seq":1,"at":"yesterday","events":[]}`, `{"seq":1,"events":[]`, `{"seq":1,"events":[]}}`, `{"seq":01,"events":[]}`,
		`{"seq":1,"seq":2,"events":[]}`, `{"events":[],"seq":1,"x":{"a":1,"a":1}}`, `{"Seq":1,"events":[]}`,
		`{"failure":"x","failure":"y"}`, `{"failure":1}`, `{"failure":"x","permanent":true}`, `{"seq":1,"duplicate":"yes"}`} {
		if _, err := decodeReply([]byte(b)); !errors.Is(err, ErrBadReply) {
			t.Errorf("decodeReply(%s): err = %v, want ErrBadReply", b, err)
		}
	}
}

// FuzzDecodeReply: decodeReply never panics, and whatever the fast path
// accepts, the generic path decodes to the same result.
func FuzzDecodeReply(f *testing.F) {
	s := newScript("room-1", classroom)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	f.Add(appendReply(nil, session.Result{Events: s.events[7], Seq: 9, At: at, Duplicate: true}, nil))
	f.Add(appendReply(nil, session.Result{}, core.ErrNotJoined))
	f.Add(appendReply(nil, session.Result{}, session.ErrClosed))
	f.Add([]byte(`{"seq":1,"events":[],"x":1}`))
	f.Add([]byte(`{"seq":01,"events":[]}`))
	f.Add(appendReply(nil, session.Result{}, session.ErrTooLarge))
	f.Add([]byte(`{"events":[],"seq":1,"Seq":2,"seq":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeReply(b)
		fast, ok := decodeApplied(b)
		if !ok {
			return
		}
		slow, err := decodeReplyJSON(b)
		if err != nil {
			t.Fatalf("decodeApplied accepts %q, decodeReplyJSON says %v", b, err)
		}
		if fast.Seq != slow.Seq || !fast.At.Equal(slow.At) || fast.Duplicate != slow.Duplicate || jsonOf(fast.Events) != jsonOf(slow.Events) {
			t.Fatalf("%q: fast %+v, generic %+v", b, fast, slow)
		}
	})
}

// TestSubmitRetries: a command sent while no service listens is answered
// once one does; one sent with nobody ever listening ends with the context.
func TestSubmitRetries(t *testing.T) {
	srv := startServer(t)
	c := newClient(t, connect(t, srv.ClientURL()), WithRequestTimeout(200*time.Millisecond))
	ctx := testwait.Context(t)

	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond) // room for one no-responders answer on a loaded machine
	defer cancel()
	if _, err := c.Submit(short, "room-1", classroom[0]); !errors.Is(err, gonats.ErrNoResponders) {
		t.Errorf("nobody listening: err = %v, want one wrapping ErrNoResponders", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := c.Submit(ctx, "room-1", classroom[0])
		done <- err
	}()
	startNode(t, WithURL(srv.ClientURL()), WithSessionOptions(session.WithPresets(presets)))
	if err := <-done; err != nil {
		t.Errorf("Submit before the service started: %v", err)
	}
	if _, err := c.Submit(ctx, "", classroom[0]); !errors.Is(err, ErrInvalidSession) {
		t.Errorf("empty session id: err = %v, want ErrInvalidSession", err)
	}
}

// TestServiceConcurrency: a command whose append is in flight does not
// keep the service from taking the next one: with WithConcurrency(2), two
// commands of two sessions are in the store at once.
func TestServiceConcurrency(t *testing.T) {
	srv := startServer(t)
	st := fake.NewStore(session.NewMemStore())
	reached1, release1 := st.Hold(1)
	reached2, release2 := st.Hold(2)
	mgr, err := session.NewManager(st, session.WithPresets(presets))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { _ = mgr.Close(ctx) })
	svc, err := NewService(testwait.Context(t), connect(t, srv.ClientURL()), mgr, WithConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { _ = svc.Close(ctx) })
	c, err := NewClient(connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for _, id := range []string{"room-1", "room-2"} {
		go func() {
			_, err := c.Submit(testwait.Context(t), id, core.Command{ID: "j", Type: core.Join, Actor: "a", Name: "A", Preset: "host"})
			errs <- err
		}()
	}
	testwait.Recv(t, reached1, "the first append")
	testwait.Recv(t, reached2, "the second append, while the first is held")
	release1()
	release2()
	for range 2 {
		if err := testwait.Recv(t, errs, "an answer"); err != nil {
			t.Fatal(err)
		}
	}
}
