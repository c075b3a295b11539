package wire

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
)

func ptr[T any](v T) *T { return &v }

var (
	offer     = Signal{Description: &SessionDescription{Type: SDPOffer, SDP: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}
	answer    = Signal{Description: &SessionDescription{Type: SDPAnswer, SDP: "v=0\r\n"}}
	candidate = Signal{Candidate: &ICECandidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
		SDPMid: ptr("0"), SDPMLineIndex: ptr[uint16](0), UsernameFragment: ptr("abcd")}}
)

func TestMediaFramesRoundTrip(t *testing.T) {
	checkRoundTrip(t, map[string]Frame{
		"offer":                {Type: TypeSignal, Signal: offer},
		"candidate":            {Type: TypeSignal, Signal: candidate},
		"candidate, bare":      {Type: TypeSignal, Signal: Signal{Candidate: &ICECandidate{}}},
		"media closed":         {Type: TypeMediaClosed},
		"media closed, error":  {Type: TypeMediaClosed, Media: MediaClosed{Err: core.Errorf(core.CodeNotJoined, "join first")}},
		"media closed, refuse": {Type: TypeMediaClosed, Media: MediaClosed{Refused: RefusedUnavailable}},
		"media closed, moved":  {Type: TypeMediaClosed, Media: MediaClosed{Reason: MediaMoved}},
	})
}

func TestClientFrames(t *testing.T) {
	cmd := core.Command{ID: "c1", Type: core.SetAudio, Actor: "alice", Enabled: true}
	for name, tc := range map[string]struct {
		b    []byte
		want ClientFrame
	}{
		"command":       {AppendCommand(nil, cmd), ClientFrame{Type: TypeCommand, Command: cmd}},
		"media_connect": {AppendMediaConnect(nil), ClientFrame{Type: TypeMediaConnect}},
		"answer":        {AppendSignal(nil, answer), ClientFrame{Type: TypeSignal, Signal: answer}},
		"candidate":     {AppendSignal(nil, candidate), ClientFrame{Type: TypeSignal, Signal: candidate}},
		// Browsers send null for what they do not know; unknown fields are ignored.
		"candidate with nulls": {[]byte(`{"type":"signal","candidate":{"candidate":"","sdpMid":null,"sdpMLineIndex":null,"usernameFragment":null,"x":1}}`),
			ClientFrame{Type: TypeSignal, Signal: Signal{Candidate: &ICECandidate{}}}},
	} {
		got, err := DecodeClientFrame(tc.b)
		if err != nil {
			t.Errorf("%s: DecodeClientFrame(%s): %v", name, tc.b, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s: %s (-want +got):\n%s", name, tc.b, d)
		}
	}
	// A command the codec rejects is answered, not a bad frame.
	if _, err := DecodeClientFrame([]byte(`{"type":"command","cmd":{"id":"c2","type":"set_audio","enabled":"yes"}}`)); errors.Is(err, ErrBadFrame) ||
		!errors.Is(err, core.ErrInvalidCommand) {
		t.Errorf("ill-typed command: %v, want invalid_command", err)
	}
}

func TestDecodeClientFrameRejects(t *testing.T) {
	for _, bad := range []string{
		``, `{}`, `{"type":"welcome"}`, `{"type":"media_closed"}`, `{"type":7}`,
		`{"type":"signal"}`,
		`{"type":"signal","description":{"type":"answer","sdp":"v=0"},"candidate":{"candidate":""}}`,
		`{"type":"signal","description":{"sdp":"v=0"}}`,
		`{"type":"signal","description":{"type":"answer","sdp":5}}`,
		`{"type":"signal","description":[]}`,
		`{"type":"signal","candidate":{"candidate":"","sdpMLineIndex":65536}}`,
		`{"type":"signal","candidate":{"candidate":"","sdpMLineIndex":-1}}`,
		`{"type":"signal","candidate":{"candidate":"","sdpMid":0}}`,
	} {
		if _, err := DecodeClientFrame([]byte(bad)); !errors.Is(err, ErrBadFrame) {
			t.Errorf("DecodeClientFrame(%s) = %v, want ErrBadFrame", bad, err)
		}
	}
	// media_connect and signal are not command frames.
	for _, b := range [][]byte{AppendMediaConnect(nil), AppendSignal(nil, answer)} {
		if _, err := DecodeCommand(b); !errors.Is(err, ErrBadFrame) {
			t.Errorf("DecodeCommand(%s) = %v, want ErrBadFrame", b, err)
		}
	}
	// media_connect is the client's only.
	if _, err := DecodeFrame(AppendMediaConnect(nil)); !errors.Is(err, ErrBadFrame) {
		t.Errorf("DecodeFrame(media_connect) = %v, want ErrBadFrame", err)
	}
}

// FuzzDecodeClientFrame: no input panics, and a frame that decodes (with no
// error) encodes back to the same frame.
func FuzzDecodeClientFrame(f *testing.F) {
	f.Add(AppendMediaConnect(nil))
	f.Add(AppendSignal(nil, answer))
	f.Add(AppendSignal(nil, candidate))
	f.Add(AppendCommand(nil, core.Command{ID: "c1", Type: core.Leave, Actor: "a"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := DecodeClientFrame(b)
		if err != nil {
			return
		}
		var enc []byte
		switch cf.Type {
		case TypeCommand:
			enc = AppendCommand(nil, cf.Command)
		case TypeMediaConnect:
			enc = AppendMediaConnect(nil)
		case TypeSignal:
			enc = AppendSignal(nil, cf.Signal)
		default:
			t.Fatalf("%s decodes as a %q frame", b, cf.Type)
		}
		again, err := DecodeClientFrame(enc)
		if err != nil {
			t.Fatalf("%s re-decodes with %v", enc, err)
		}
		if d := cmp.Diff(cf, again); d != "" {
			t.Fatalf("%s re-decodes differently:\n%s", enc, d)
		}
	})
}
