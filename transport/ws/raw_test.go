package ws_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/transport/ws/wire"
	"github.com/gavelrtc/gavel/transport/ws/wstest"
)

// wait bounds every wait of these tests: they wait for events, never for
// time, and this is only how long they wait before failing.
const wait = 10 * time.Second

// raw is a client that speaks the protocol frame by frame.
type raw struct {
	t       testing.TB
	c       *websocket.Conn
	welcome wire.Welcome
}

// ids numbers the commands of every raw client: ids are unique per session.
var ids atomic.Int64

// dial connects with token, resuming from after when it is not nil, and
// reads the welcome.
func dial(t testing.TB, srv *wstest.Server, token string, after *uint64) *raw {
	t.Helper()
	u := srv.URL + "?token=" + token
	if after != nil {
		u += "&after=" + strconv.FormatUint(*after, 10)
	}
	r := &raw{t: t, c: dialPlain(t, u)}
	f := r.next()
	if f.Type != wire.TypeWelcome {
		t.Fatalf("first frame %s, want welcome", f.Type)
	}
	r.welcome = f.Welcome
	return r
}

// dialPlain opens a websocket to url, closed when the test ends.
func dialPlain(tb testing.TB, url string) *websocket.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(16 << 20)
	tb.Cleanup(func() { c.CloseNow() })
	return c
}

// joined dials participant id of room with a token for preset, and joins.
func joined(t testing.TB, srv *wstest.Server, id, preset string) *raw {
	t.Helper()
	r := dial(t, srv, srv.Token(room, id, preset), nil)
	r.join()
	return r
}

// next reads the next frame.
func (r *raw) next() wire.Frame {
	r.t.Helper()
	f, err := r.read()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return f
}

func (r *raw) read() (wire.Frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := r.c.Read(ctx)
	if err != nil {
		return wire.Frame{}, err
	}
	return wire.DecodeFrame(b)
}

// send sends cmd with a fresh id unless it has one, and returns the id.
func (r *raw) send(cmd core.Command) string {
	r.t.Helper()
	if cmd.ID == "" {
		cmd.ID = "cmd-" + strconv.FormatInt(ids.Add(1), 10)
	}
	r.sendRaw(wire.AppendCommand(nil, cmd))
	return cmd.ID
}

func (r *raw) sendRaw(b []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.c.Write(ctx, websocket.MessageText, b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// do sends cmd and reads until its result; the events read on the way,
// those of the result included, are returned too.
func (r *raw) do(cmd core.Command) (wire.Result, []events.Event) {
	r.t.Helper()
	id := r.send(cmd)
	var evs []events.Event
	for {
		f := r.next()
		switch f.Type {
		case wire.TypeEvent:
			evs = append(evs, f.Event)
		case wire.TypeResult:
			evs = append(evs, f.Result.Events...)
			if f.Result.ID == id {
				return f.Result, evs
			}
		default:
			r.t.Fatalf("%s frame while waiting for result %s", f.Type, id)
		}
	}
}

// events reads until the client has the event with seq upto, and returns
// the events read.
func (r *raw) events(upto uint64) []events.Event {
	r.t.Helper()
	var evs []events.Event
	for len(evs) == 0 || evs[len(evs)-1].Sequence() < upto {
		f := r.next()
		switch f.Type {
		case wire.TypeEvent:
			evs = append(evs, f.Event)
		case wire.TypeResult:
			evs = append(evs, f.Result.Events...)
		default:
			r.t.Fatalf("%s frame while waiting for event %d", f.Type, upto)
		}
	}
	return evs
}

// goodbye reads the goodbye and the close frame that follows it.
func (r *raw) goodbye() (wire.Reason, websocket.CloseError) {
	r.t.Helper()
	f := r.next()
	if f.Type != wire.TypeGoodbye {
		r.t.Fatalf("%s frame, want goodbye", f.Type)
	}
	return f.Reason, r.closed()
}

// closed reads the close frame that ends the connection.
func (r *raw) closed() websocket.CloseError {
	r.t.Helper()
	f, err := r.read()
	ce, ok := errors.AsType[websocket.CloseError](err)
	if !ok {
		r.t.Fatalf("read %+v, %v; want the connection closed", f, err)
	}
	return ce
}

// join joins self with the welcome's preset.
func (r *raw) join() []events.Event {
	r.t.Helper()
	res, evs := r.do(core.Command{Type: core.Join, Name: r.welcome.Self})
	if res.Err != nil || res.Refused != "" {
		r.t.Fatalf("join %s: %+v", r.welcome.Self, res)
	}
	return evs
}

func statusOf(t testing.TB, srv *wstest.Server, token string, h http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, srv.URL+"?token="+token, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

// refusal dials with token and returns the HTTP status and body of the
// refusal; it fails the test if the connection opens.
func refusal(t testing.TB, srv *wstest.Server, token string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, srv.URL+"?token="+token, nil)
	if err == nil {
		c.CloseNow()
		t.Fatal("the connection opened")
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
