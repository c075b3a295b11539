package media

import (
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/gavelrtc/gavel/core"
)

// muteGate is the stage that enforces moderation on the media path: a
// track's packets pass only while [Forwards] holds in the router's state, so
// a client that ignores a mute and keeps sending reaches nobody. Withheld
// packets are passed on as skips.
type muteGate struct {
	NoOp
	state core.State
	gates map[*TrackInfo]*gateWriter
}

func newMuteGate() *muteGate { return &muteGate{gates: make(map[*TrackInfo]*gateWriter)} }

func (g *muteGate) BindTrack(info *TrackInfo, next Writer) Writer {
	w := &gateWriter{next: next}
	w.open.Store(Forwards(g.state, info.Participant, info.Kind))
	g.gates[info] = w
	return w
}

func (g *muteGate) UnbindTrack(info *TrackInfo) { delete(g.gates, info) }

func (g *muteGate) Update(s core.State) {
	g.state = s
	for info, w := range g.gates {
		w.open.Store(Forwards(s, info.Participant, info.Kind))
	}
}

// gateWriter is one track's gate. open is atomic: Update flips it while the
// track's read loop is writing.
type gateWriter struct {
	next Writer
	open atomic.Bool
}

func (w *gateWriter) WriteRTP(p *rtp.Packet) error {
	if !w.open.Load() {
		w.next.Skip(p)
		return nil
	}
	return w.next.WriteRTP(p)
}

func (w *gateWriter) Skip(p *rtp.Packet) { w.next.Skip(p) }
