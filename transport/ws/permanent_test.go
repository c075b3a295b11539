package ws_test

import (
	"strings"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/sessionlog"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// A command the session's store can never hold is refused too_large, a
// permanent refusal, and the connection and the session go on.
func TestTooLargeRefused(t *testing.T) {
	srv := wstest.New(t)
	// The store can never hold a record whose command id starts with "big".
	srv.Store.InjectFunc(func(_ int, recs []sessionlog.Record) fake.Fault {
		for _, r := range recs {
			if strings.HasPrefix(r.Command.ID, "big") {
				return fake.TooLarge
			}
		}
		return fake.None
	})
	host := joined(t, srv, "hana", "host")
	res, evs := host.do(core.Command{ID: "big-1", Type: core.SetAudio, Enabled: true})
	if res.Refused != wire.RefusedTooLarge || !res.Refused.Permanent() || len(evs) != 0 {
		t.Fatalf("a command too large to store: %+v, %v; want refused too_large", res, evs)
	}
	if res, evs := host.do(core.Command{ID: "c2", Type: core.SetAudio, Enabled: true}); res.Err != nil || res.Refused != "" || len(evs) != 1 {
		t.Errorf("the next command: %+v, %v", res, evs)
	}
}

// A command whose id is not valid UTF-8 is answered invalid_command with no
// id: echoing it would make it another, valid, id.
func TestInvalidUTF8IDNotEchoed(t *testing.T) {
	srv := wstest.New(t)
	a := joined(t, srv, "alice", "attendee")
	a.sendRaw([]byte("{\"type\":\"command\",\"cmd\":{\"id\":\"c\xff\",\"type\":\"set_audio\",\"actor\":\"alice\",\"enabled\":true}}"))
	if f := a.next(); f.Type != wire.TypeResult || f.Result.ID != "" || f.Result.Err == nil || f.Result.Err.Code != core.CodeInvalidCommand {
		t.Errorf("a command with an id in invalid UTF-8: %+v, want invalid_command with no id", f)
	}
	a.sendRaw([]byte(`{"type":"command","cmd":{"id":"c3","type":"set_audio","actor":"alice","enabled":true,"name":"` +
		strings.Repeat("n", 2000) + `"}}`))
	if f := a.next(); f.Type != wire.TypeResult || f.Result.ID != "c3" || f.Result.Err != nil {
		t.Errorf("a long field its type does not read: %+v, want it applied", f)
	}
}
