package media_test

import (
	"context"
	"log"
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/media"
)

// packetCounter is a forwarding stage that counts the packets each track
// forwards. Embedding media.NoOp leaves the other Stage methods as they are;
// embedding the next Writer passes skips on unchanged.
type packetCounter struct {
	media.NoOp
	forwarded atomic.Uint64
}

func (c *packetCounter) BindTrack(_ *media.TrackInfo, next media.Writer) media.Writer {
	return &countingWriter{Writer: next, c: c}
}

type countingWriter struct {
	media.Writer
	c *packetCounter
}

func (w *countingWriter) WriteRTP(p *rtp.Packet) error {
	w.c.forwarded.Add(1)
	return w.Writer.WriteRTP(p)
}

// A stage runs after the mute gate, so it never sees muted media. The
// factory makes each router a counter of its own.
func ExampleWithStages() {
	counters := media.StageFactoryFunc(func(session string) (media.Stage, error) {
		return &packetCounter{}, nil
	})
	r, err := media.NewRouter(core.NewState("room-1", core.Presets{"host": {}}),
		media.WithStages(counters))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close(context.Background())
}

// A service runs one router per session, fed by the session's events, and
// gives each participant's transport a Peer to signal through.
func ExampleRouter() {
	var (
		ctx   context.Context
		state core.State                  // the session's state at the seq where events is subscribed
		evs   media.EventSource           // e.g. a subscription of the session runtime from state.Seq()
		send  func(media.Signal)          // the transport's way to the participant
		recv  func() (media.Signal, bool) // from the participant, until the transport closes
	)
	r, err := media.NewRouter(state, media.WithNetwork(media.DefaultNetwork()))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close(ctx)
	go func() {
		if err := r.Run(ctx, evs); err != nil {
			log.Print(err) // on ErrSequenceGap or a cut-off: subscribe again from r.State().Seq()
		}
	}()

	p, err := r.Connect(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			s, err := p.Next(ctx) // offers and candidates for alice
			if err != nil {
				return // media.ErrPeerClosed: alice left, was kicked, or the session ended
			}
			send(s)
		}
	}()
	for s, ok := recv(); ok; s, ok = recv() {
		if err := p.Signal(s); err != nil { // alice's answers and candidates
			log.Print(err)
		}
	}
	_ = p.Close(ctx) // the transport closed: alice stays joined and may connect again
}
