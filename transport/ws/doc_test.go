package ws_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// docSession returns the frames of the section "A session, frame by frame"
// of docs/ws-protocol.md.
func docSession(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../docs/ws-protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := bytes.Cut(data, []byte("\n## A session, frame by frame\n"))
	if !ok {
		t.Fatal("no section \"A session, frame by frame\"")
	}
	var frames []string
	in := false
	for sc := bufio.NewScanner(bytes.NewReader(section)); sc.Scan(); {
		switch line := strings.TrimSpace(sc.Text()); {
		case line == "```json":
			in = true
		case strings.HasPrefix(line, "```"):
			if in {
				return frames
			}
		case in && line != "":
			frames = append(frames, line)
		}
	}
	t.Fatal("the section has no json block")
	return nil
}

// TestProtocolDocSession plays the documented session against a server:
// the client sends the document's command frames, the host does what the
// events say, and every server frame is the document's, byte for byte.
func TestProtocolDocSession(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	srv.Submit(t, room, core.Command{ID: "h", Type: core.Join, Actor: "hana", Name: "Hana", Preset: "host", Audio: true, Video: true})
	// What the host does before each of the document's events by hana.
	host := map[uint64]core.Command{
		3: {ID: "h3", Type: core.DisableAudio, Actor: "hana", Target: "alice"},
		4: {ID: "h4", Type: core.Kick, Actor: "hana", Target: "alice"},
	}
	alice := dialPlain(t, srv.URL+"?token="+srv.Token(room, "alice", "attendee"))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for i, line := range docSession(t) {
		if strings.HasPrefix(line, `{"type":"command"`) {
			if err := alice.Write(ctx, websocket.MessageText, []byte(line)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if f, err := wire.DecodeFrame([]byte(line)); err == nil && f.Type == wire.TypeEvent {
			if cmd, ok := host[f.Event.Sequence()]; ok {
				srv.Submit(t, room, cmd)
			}
		}
		_, got, err := alice.Read(ctx)
		if err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		if string(got) != line {
			t.Errorf("frame %d:\n got %s\nwant %s", i+1, got, line)
		}
	}
}

// Results come in the order of the commands, whatever answers them (the
// session, the transport's checks, the rate limit, the codec), so that the
// result of a command whose id could not be read ("id":"") answers the
// oldest one waiting.
func TestResultsInCommandOrder(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t, ws.WithCommandRate(0.001, 6))
	alice := joined(t, srv, "alice", "attendee") // one token of six
	frames := []struct{ frame, id string }{
		{string(wire.AppendCommand(nil, core.Command{ID: "a", Type: core.SetAudio, Enabled: true})), "a"},
		{`{"type":"command","cmd":{"id":5,"type":"set_audio","enabled":true}}`, ""},
		{string(wire.AppendCommand(nil, core.Command{ID: "b", Type: core.Kick, Actor: "bob", Target: "alice"})), "b"},
		{string(wire.AppendCommand(nil, core.Command{ID: "c", Type: core.SetVideo, Enabled: true})), "c"},
		{`{"type":"command","cmd":{"type":"set_video","enabled":false}}`, ""},
		{string(wire.AppendCommand(nil, core.Command{ID: "d", Type: core.SetAudio, Enabled: false})), "d"}, // over the rate
		{string(wire.AppendCommand(nil, core.Command{ID: "e", Type: core.SetAudio, Enabled: false})), "e"},
	}
	var want, got []string
	for _, f := range frames {
		alice.sendRaw([]byte(f.frame))
		want = append(want, f.id)
	}
	var evs []events.Event
	for len(got) < len(want) {
		switch f := alice.next(); f.Type {
		case wire.TypeResult:
			got = append(got, f.Result.ID)
			evs = append(evs, f.Result.Events...)
		case wire.TypeEvent:
			evs = append(evs, f.Event)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("results for %q, want %q", got, want)
	}
	if len(evs) != 2 {
		t.Errorf("%d events, want the two of a and c", len(evs))
	}
}

// after=0 resumes from the beginning: the whole history follows.
func TestResumeFromZero(t *testing.T) {
	leakcheck.Check(t)
	srv := wstest.New(t)
	for _, id := range []string{"a", "b", "c"} {
		srv.Submit(t, room, core.Command{ID: id, Type: core.Join, Actor: id, Name: id, Preset: "attendee"})
	}
	zero := uint64(0)
	c := dial(t, srv, srv.Token(room, "dan", "attendee"), &zero)
	if !c.welcome.Resumed || c.welcome.Seq != 0 {
		t.Fatalf("welcome %+v, want resumed at 0", c.welcome)
	}
	if got := seqs(c.events(3)); len(got) != 3 || got[0] != 1 {
		t.Errorf("events %v, want 1 to 3", got)
	}
}
