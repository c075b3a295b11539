package media

import (
	"time"

	"github.com/pion/rtp"
)

// rewriter is the last stage of every track: it gives the subscribers one
// continuous RTP stream per forwarded track, as SFUs do.
//
//   - Sequence numbers have no holes where packets were skipped (muted), so
//     a subscriber neither asks for them again nor counts them as lost, and
//     SRTP replay protection sees a plain increasing stream. Real losses
//     upstream stay holes, so NACK still works for them.
//   - Timestamps keep the publisher's clock, which runs on through a mute:
//     after an unmute the jitter buffer sees the time that passed.
//   - When the publisher's source changes (a reconnect: a new SSRC), both
//     are rebased to continue where the last source stopped, the timestamp
//     advanced by the wall time in between.
//   - Header extensions are dropped: their ids were negotiated with the
//     publisher, not with the subscriber, and a stale mid extension would
//     misroute the packet in a browser.
type rewriter struct {
	NoOp
	now func() time.Time
}

func (r rewriter) BindTrack(info *TrackInfo, next Writer) Writer {
	return &rewriteWriter{next: next, clockRate: info.Codec.ClockRate, now: r.now}
}

// rewriteWriter is one track's rewriter; only the track's read loop uses it.
type rewriteWriter struct {
	next      Writer
	clockRate uint32
	now       func() time.Time

	started  bool
	ssrc     uint32 // the current source's SSRC
	lastIn   uint16 // the source's newest sequence number, written or skipped
	seqDelta uint16 // added to the source's sequence numbers
	tsDelta  uint32 // added to the source's timestamps

	lastSeq uint16 // the newest packet written: its sequence number,
	lastTS  uint32 // timestamp
	lastAt  time.Time
}

func (w *rewriteWriter) WriteRTP(p *rtp.Packet) error {
	newest := true
	switch {
	case !w.started:
		// The first source's numbering passes through unchanged.
		w.started, w.ssrc, w.lastIn = true, p.SSRC, p.SequenceNumber
	case p.SSRC != w.ssrc:
		w.rebase(p)
	case newer(p.SequenceNumber, w.lastIn):
		w.lastIn = p.SequenceNumber
	default:
		newest = false // a late packet: numbered as before, not a new high mark
	}
	p.SequenceNumber += w.seqDelta
	p.Timestamp += w.tsDelta
	p.Header.ClearExtensions()
	if newest {
		w.lastSeq, w.lastTS, w.lastAt = p.SequenceNumber, p.Timestamp, w.now()
	}
	return w.next.WriteRTP(p)
}

// Skip hides p's sequence number: every later packet of the source is
// numbered one lower. Only packets newer than any seen count, so a hole a
// real loss left before p stays a hole.
func (w *rewriteWriter) Skip(p *rtp.Packet) {
	if w.started && p.SSRC == w.ssrc && newer(p.SequenceNumber, w.lastIn) {
		w.lastIn = p.SequenceNumber
		w.seqDelta--
	}
}

// rebase makes p, the first packet of a new source, follow the last packet
// written.
func (w *rewriteWriter) rebase(p *rtp.Packet) {
	ticks := uint32(w.now().Sub(w.lastAt).Milliseconds() * int64(w.clockRate) / 1000)
	w.ssrc, w.lastIn = p.SSRC, p.SequenceNumber
	w.seqDelta = w.lastSeq + 1 - p.SequenceNumber
	w.tsDelta = w.lastTS + max(ticks, 1) - p.Timestamp
}

// newer reports whether sequence number a comes after b, modulo 2^16.
func newer(a, b uint16) bool { return int16(a-b) > 0 }
