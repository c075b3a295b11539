package ws

import (
	"math"

	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/transport/ws/wire"
)

// outbox is a connection's outbound side as a pure state machine: what the
// server has for one client goes in (the welcome, the session's events,
// the answers to its commands, media signalling, the goodbye) and the
// frames to write come out, in the order the client must see them. It runs
// no goroutine and reads no clock; the connection guards it with its mutex
// and carries out what it asks (see conn). Its rules:
//
// Order. The welcome first. Every event once, in seq order: in an event
// frame, or in the result of the connection's own command that produced
// it, when the client has every event before it (so the answer is one
// frame). A result never overtakes its command's events: it is held until
// they are queued. Results leave in the order of the commands.
//
// Bound. Producers ask before they add (Room, CommandRoom) and wait while
// there is no room: frames queued or being written and events parked while
// a command is submitted count against the limit, and the client's next
// frame is not read while an answer is held. Each producer adds at most one
// thing after asking (an event, a signal, the answer to one frame), so no
// more than limit+2 frames wait for the client (a held result included),
// and the goodbye.
//
// Slow rule. A client whose socket takes no frame for the write timeout
// while frames wait for it gets goodbye slow, and what waited is dropped; if
// it does not take that either, it is dropped (Tick).
//
// End. The goodbye is decided once (Finish) and is the last frame: queued
// frames and held results go before it, the answer to a command being
// submitted too, and a media_closed if the client has a media connection
// (except before slow); nothing is added after it.
type outbox struct {
	self  string // the connection's participant: its departure ends the connection
	limit int    // WithOutboundQueue

	frames  []outFrame // to write, from head on
	head    int
	writing bool   // the frame Next returned last is being written
	written uint64 // frames written so far

	sent   uint64         // seq of the last event queued for the client
	held   []heldResult   // results waiting for their events, in command order
	busy   bool           // a command is being submitted
	parked []events.Event // the session's events that came meanwhile

	media  bool        // the client has a media connection
	bye    wire.Reason // the goodbye, once decided
	byeOut bool        // the goodbye is queued: nothing follows it

	clock bool   // the slow rule's clock runs
	mark  uint64 // written when the clock started or last ticked
}

// outFrame is a frame to write; the goodbye closes the connection after it.
type outFrame struct {
	b   []byte
	bye wire.Reason
}

// heldResult is an encoded result waiting until the event with seq has
// been queued.
type heldResult struct {
	b   []byte
	seq uint64
}

// frameBuf returns a buffer for a frame, sized for the common one (an
// event, a result with one event) to be encoded without growing.
func frameBuf() []byte { return make([]byte, 0, 256) }

func newOutbox(self string, limit int) outbox { return outbox{self: self, limit: limit} }

// Welcome queues the welcome: the client has the events up to w.Seq. If the
// session had ended (ended, with nothing left to send), the goodbye follows.
// After a goodbye it sends nothing.
func (o *outbox) Welcome(w wire.Welcome, ended bool) {
	if o.byeOut {
		return
	}
	o.sent = w.Seq
	o.push(wire.AppendWelcome(nil, w), "")
	if ended {
		o.Finish(wire.ReasonEnded)
	}
}

// unwritten is how many frames are queued or being written.
func (o *outbox) unwritten() int {
	n := len(o.frames) - o.head
	if o.writing {
		n++
	}
	return n
}

// waiting is how many frames wait for the client, held results aside.
func (o *outbox) waiting() int { return o.unwritten() + len(o.parked) }

// Room reports whether an event or a signal may be added now. Held results
// do not count: the events they wait for are the ones being added. After
// the goodbye there is always room: nothing more is taken.
func (o *outbox) Room() bool { return o.bye != "" || o.waiting() < o.limit }

// CommandRoom reports whether the client's next frame may be read, whose
// answer would be added: there is room, and no answer is held (so at most
// one is). A client that sends commands and reads nothing stops being read
// once its outbox is full.
func (o *outbox) CommandRoom() bool {
	return o.bye != "" || (len(o.held) == 0 && o.waiting() < o.limit)
}

// Event takes one of the session's events. While a command is submitted it
// is parked; else it is queued unless the client has it (a result carried
// it). The departure of self (participant_left for self, session_ended)
// decides the goodbye, after it. Event reports whether later events are
// wanted: not once the goodbye is decided.
func (o *outbox) Event(ev events.Event) bool {
	switch {
	case o.bye != "":
		return false
	case o.busy:
		o.parked = append(o.parked, ev)
		return true
	}
	o.event(ev)
	return o.bye == ""
}

func (o *outbox) event(ev events.Event) {
	if o.bye != "" || ev.Sequence() <= o.sent {
		return
	}
	o.push(wire.AppendEvent(frameBuf(), ev), "")
	o.sent = ev.Sequence()
	o.release()
	o.depart(ev)
}

// depart decides the goodbye that ev means for self, if any.
func (o *outbox) depart(ev events.Event) {
	switch e := ev.(type) {
	case *events.ParticipantLeft:
		switch {
		case e.Participant != o.self:
		case e.Reason == events.ReasonKicked:
			o.Finish(wire.ReasonKicked)
		default:
			o.Finish(wire.ReasonLeft)
		}
	case *events.SessionEnded:
		o.Finish(wire.ReasonEnded)
	}
}

// Begin says a command is being submitted: events park until its Answer.
// It reports false, and the command is not to be submitted, once the
// goodbye is decided.
func (o *outbox) Begin() bool {
	if o.bye != "" {
		return false
	}
	o.busy = true
	return true
}

// Answer takes the outcome of the command being submitted and, if it was
// applied now, its events (a duplicate's are not its own: they reach the
// client in the event stream). The events parked meanwhile that come before
// the command's go first, then the result, then the rest.
func (o *outbox) Answer(res wire.Result, evs []events.Event) {
	first := uint64(math.MaxUint64) // not applied: every parked event goes first
	if res.Err == nil && res.Refused == "" {
		first = res.Seq + 1
		if len(evs) > 0 {
			first = evs[0].Sequence()
		}
	}
	parked := o.parked
	split := 0
	for split < len(parked) && parked[split].Sequence() < first {
		split++
	}
	for _, ev := range parked[:split] {
		o.event(ev)
	}
	o.result(res, evs)
	for _, ev := range parked[split:] {
		o.event(ev)
	}
	clear(parked)
	o.parked = parked[:0]
	o.busy = false
	if o.bye != "" {
		o.queueBye()
	}
}

// Reply takes an answer that waits for no event: a refusal, or a rejection
// by the transport's own checks. It keeps its place behind held results.
func (o *outbox) Reply(res wire.Result) {
	if o.bye == "" {
		o.result(res, nil)
	}
}

func (o *outbox) result(res wire.Result, evs []events.Event) {
	if o.byeOut {
		return
	}
	if n := len(evs); n > 0 && res.Err == nil && res.Refused == "" && o.sent+1 == evs[0].Sequence() && len(o.held) == 0 {
		res.Events = evs
		o.push(wire.AppendResult(frameBuf(), res), "")
		o.sent = evs[n-1].Sequence()
		for _, ev := range evs {
			o.depart(ev)
		}
		return
	}
	b := wire.AppendResult(frameBuf(), res)
	if res.Seq <= o.sent && len(o.held) == 0 {
		o.push(b, "")
		return
	}
	o.held = append(o.held, heldResult{b: b, seq: res.Seq})
}

// release queues the held results whose events have been queued.
func (o *outbox) release() {
	n := 0
	for n < len(o.held) && o.held[n].seq <= o.sent {
		o.push(o.held[n].b, "")
		n++
	}
	if n > 0 {
		m := copy(o.held, o.held[n:])
		clear(o.held[m:])
		o.held = o.held[:m]
	}
}

// Signal queues a media signal for the client.
func (o *outbox) Signal(s wire.Signal) {
	if o.bye == "" {
		o.push(wire.AppendSignal(frameBuf(), s), "")
	}
}

// MediaOpen says the client has a media connection from now on (until
// MediaClosed): the goodbye then ends it too.
func (o *outbox) MediaOpen() { o.media = true }

// MediaClosed queues a media_closed: the client has no media connection.
func (o *outbox) MediaClosed(mc wire.MediaClosed) {
	o.media = false
	if o.bye == "" {
		o.push(wire.AppendMediaClosed(frameBuf(), mc), "")
	}
}

// Finish decides the goodbye r, unless one is decided. The frames queued go
// before it, except for a slow client, whose waiting frames are dropped;
// it waits for the answer of a command being submitted.
func (o *outbox) Finish(r wire.Reason) {
	if o.bye != "" {
		return
	}
	o.bye = r
	if r == wire.ReasonSlow {
		clear(o.frames)
		o.frames, o.head = o.frames[:0], 0
		o.held, o.parked = nil, nil
	}
	if !o.busy {
		o.queueBye()
	}
}

// Bye is the goodbye decided, or "".
func (o *outbox) Bye() wire.Reason { return o.bye }

func (o *outbox) queueBye() {
	if o.byeOut {
		return
	}
	for _, h := range o.held { // the events they wait for will not come
		o.push(h.b, "")
	}
	o.held = nil
	if o.media && o.bye != wire.ReasonSlow {
		// A client always learns its media connection is over; the media
		// server closes it at its own pace, often after the goodbye.
		o.push(wire.AppendMediaClosed(frameBuf(), wire.MediaClosed{}), "")
	}
	o.media = false
	o.push(wire.AppendGoodbye(nil, o.bye), o.bye)
	o.byeOut = true
}

func (o *outbox) push(b []byte, bye wire.Reason) {
	if o.head > 0 && len(o.frames) == cap(o.frames) { // reuse the written part
		n := copy(o.frames, o.frames[o.head:])
		clear(o.frames[n:])
		o.frames, o.head = o.frames[:n], 0
	}
	o.frames = append(o.frames, outFrame{b: b, bye: bye})
	if !o.clock {
		o.clock, o.mark = true, o.written
	}
}

// Pending reports whether a frame is ready to be taken by Next.
func (o *outbox) Pending() bool { return !o.writing && o.head < len(o.frames) }

// Next returns the next frame to write, unless none is queued or the last
// one is still being written (one writer at a time); Wrote says it was
// written. Nothing follows a goodbye frame.
func (o *outbox) Next() (outFrame, bool) {
	if !o.Pending() {
		return outFrame{}, false
	}
	f := o.frames[o.head]
	o.frames[o.head] = outFrame{}
	if o.head++; o.head == len(o.frames) {
		o.frames, o.head = o.frames[:0], 0
	}
	o.writing = true
	return f, true
}

// Wrote says the frame from Next has been written.
func (o *outbox) Wrote() {
	o.writing = false
	o.written++
}

// Clock reports whether the slow rule's clock must run: frames have been
// waiting since it started. The connection runs it as a timer of the write
// timeout that calls Tick, from when Clock turns true until Tick says
// tickIdle.
func (o *outbox) Clock() bool { return o.clock }

// tick is what Tick asks of the connection.
type tick int

const (
	tickIdle  tick = iota // nothing waits: stop the clock until Clock says otherwise
	tickAgain             // tick again after the write timeout
	tickDrop              // close the connection now, without a word
)

// Tick applies the slow rule, a write timeout after the clock started or
// last ticked. If the socket took no frame meanwhile (frames waited all
// along: only a write takes them away), the client is slow: goodbye slow,
// or, if the goodbye was already decided and it does not take that either,
// tickDrop.
func (o *outbox) Tick() tick {
	switch {
	case !o.clock:
		return tickIdle
	case o.written != o.mark:
		o.mark = o.written
		if o.unwritten() == 0 {
			o.clock = false
			return tickIdle
		}
		return tickAgain
	case o.bye == "":
		o.Finish(wire.ReasonSlow)
		return tickAgain // the goodbye must be taken within the write timeout too
	}
	o.clock = false
	return tickDrop
}
