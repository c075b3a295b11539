package relay

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/transport/ws"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// TestRemoteNext: a relayed connection takes the home's messages in order,
// and ends on the home's media_closed (telling its reason or error), on a
// lost message, or on one it cannot read.
func TestRemoteNext(t *testing.T) {
	cand := wire.AppendSignal(nil, wire.Signal{Candidate: &wire.ICECandidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}})
	msg := func(seq string, data []byte) *nats.Msg {
		m := nats.NewMsg("x")
		if seq != "" {
			m.Header.Set(seqHeader, seq)
		}
		m.Data = data
		return m
	}
	for _, tc := range []struct {
		name    string
		msgs    []*nats.Msg
		signals int   // Next returns this many signals
		want    error // then this
		code    core.Code
	}{
		{"closed", []*nats.Msg{msg("1", cand), msg("2", cand), msg("3", wire.AppendMediaClosed(nil, wire.MediaClosed{}))}, 2, ws.ErrMediaClosed, 0},
		{"moved", []*nats.Msg{msg("1", cand), msg("2", wire.AppendMediaClosed(nil, wire.MediaClosed{Reason: wire.MediaMoved}))}, 1, ws.ErrMediaMoved, 0},
		{"refused", []*nats.Msg{msg("1", wire.AppendMediaClosed(nil, wire.MediaClosed{Err: core.Errorf(core.CodeInvalidCommand, "no")}))}, 0, ws.ErrMediaClosed, core.CodeInvalidCommand},
		{"a message lost", []*nats.Msg{msg("1", cand), msg("3", cand)}, 1, ws.ErrMediaClosed, 0},
		{"a message again", []*nats.Msg{msg("1", cand), msg("1", cand)}, 1, ws.ErrMediaClosed, 0},
		{"no number", []*nats.Msg{msg("", cand)}, 0, ws.ErrMediaClosed, 0},
		{"not a frame", []*nats.Msg{msg("1", []byte(`{"type":"signal"}`))}, 0, ws.ErrMediaClosed, 0},
		{"not a signal", []*nats.Msg{msg("1", wire.AppendGoodbye(nil, wire.ReasonKicked))}, 0, ws.ErrMediaClosed, 0},
	} {
		p := &remotePeer{home: "node-b", msgs: make(chan *nats.Msg, len(tc.msgs)), ending: newEnding()}
		for _, m := range tc.msgs {
			p.msgs <- m
		}
		ctx := testwait.Context(t)
		for i := range tc.signals {
			if _, err := p.Next(ctx); err != nil {
				t.Fatalf("%s: signal %d: %v", tc.name, i+1, err)
			}
		}
		_, err := p.Next(ctx)
		code, _ := core.CodeOf(err)
		if !errors.Is(err, tc.want) || errors.Is(err, ws.ErrMediaMoved) != errors.Is(tc.want, ws.ErrMediaMoved) || code != tc.code {
			t.Errorf("%s: %v, want %v (code %d)", tc.name, err, tc.want, tc.code)
		}
		if _, again := p.Next(ctx); !errors.Is(again, ws.ErrMediaClosed) {
			t.Errorf("%s: Next after the end: %v", tc.name, again)
		}
	}
}
