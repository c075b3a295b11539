package core

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"unsafe"
)

// Participant is a joined participant as the SPEC describes it.
type Participant struct {
	ID           string
	Name         string
	Preset       string
	AudioEnabled bool
	VideoEnabled bool
}

// State is a session at one point of its history: an immutable value (see the
// package doc). The zero State is a session with an empty id and no presets;
// use NewState.
type State struct {
	session   string
	presets   Presets
	seq       uint64
	ended     bool
	pinned    string
	root      unsafe.Pointer // the trie's root node, nil when empty
	count     int
	nextOrder uint64
	audioOn   int // participants with audio on
	videoOn   int // and with video on
	st        stamps
}

// NewState returns a new session (seq 0, nobody joined). presets is kept, not
// copied: do not modify it afterwards.
func NewState(session string, presets Presets) State {
	return State{session: session, presets: presets}
}

// Session is the session id.
func (s State) Session() string { return s.session }

// Seq is the sequence number of the last event applied, 0 for a new session.
func (s State) Seq() uint64 { return s.seq }

// Ended reports whether kick_all has ended the session.
func (s State) Ended() bool { return s.ended }

// Pinned is the id of the pinned participant, or "" when nobody is pinned.
func (s State) Pinned() string { return s.pinned }

// Len is the number of joined participants.
func (s State) Len() int { return s.count }

// AudioOn is the number of joined participants whose audio is on.
func (s State) AudioOn() int { return s.audioOn }

// VideoOn is the number of joined participants whose video is on.
func (s State) VideoOn() int { return s.videoOn }

// Preset returns the permissions of the named preset.
func (s State) Preset(name string) (Permissions, bool) {
	p, ok := s.presets[name]
	return p, ok
}

// Presets returns a copy of the session's presets.
func (s State) Presets() Presets { return maps.Clone(s.presets) }

// Participant returns the joined participant with the given id.
func (s State) Participant(id string) (Participant, bool) {
	e, ok := find(s.root, hashID(id), id, s.st)
	if !ok {
		return Participant{}, false
	}
	return e.participant(), true
}

// Joined reports whether id is a joined participant.
func (s State) Joined(id string) bool {
	_, ok := find(s.root, hashID(id), id, s.st)
	return ok
}

// All yields the joined participants in join order.
func (s State) All() iter.Seq[Participant] {
	return func(yield func(Participant) bool) {
		for _, e := range s.entriesInOrder() {
			if !yield(e.participant()) {
				return
			}
		}
	}
}

// Participants returns the joined participants in join order.
func (s State) Participants() []Participant {
	es := s.entriesInOrder()
	ps := make([]Participant, len(es))
	for i, e := range es {
		ps[i] = e.participant()
	}
	return ps
}

// entriesInOrder returns the entries sorted by join order. Orders are
// distinct and, unless the session has seen much churn, dense: then each
// entry is placed at its order directly, with no sort.
func (s State) entriesInOrder() []entry {
	es := appendEntries(make([]entry, 0, s.count), s.root, s.st)
	if len(es) == 0 {
		return es
	}
	lowest := es[0].m.order
	for _, e := range es {
		lowest = min(lowest, e.m.order)
	}
	if span := s.nextOrder - lowest + 1; span <= 4*uint64(len(es)) {
		placed := make([]entry, span)
		for _, e := range es {
			placed[e.m.order-lowest] = e
		}
		es = es[:0]
		for _, e := range placed {
			if e.m != nil {
				es = append(es, e)
			}
		}
		return es
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Compare(a.m.order, b.m.order) })
	return es
}

// WithSeq returns s with its sequence number set.
func (s State) WithSeq(seq uint64) State {
	s.seq = seq
	return s
}

// WithJoined returns s with p joined last in join order. If p.ID is joined
// already it is replaced and moves to the end, as on a rejoin.
func (s State) WithJoined(p Participant) State {
	b := NewBuilder(s)
	b.Join(p)
	return b.State()
}

// MediaChange turns one participant's audio (or video) on or off.
type MediaChange struct {
	ID      string
	Video   bool // the change is to video; else to audio
	Enabled bool
}

// WithMedia returns s with the changes applied in order; a change naming a
// participant who is not joined is ignored. However many changes there are,
// each trie node is copied at most once.
func (s State) WithMedia(changes ...MediaChange) State {
	b := NewBuilder(s)
	b.SetMedia(changes...)
	return b.State()
}

// WithAllAudioOff returns s with everyone's audio off. It costs the same at
// any size: no participant is touched (see the package doc).
func (s State) WithAllAudioOff() State {
	b := NewBuilder(s)
	b.AllAudioOff()
	return b.State()
}

// WithAllVideoOff returns s with everyone's video off, as WithAllAudioOff.
func (s State) WithAllVideoOff() State {
	b := NewBuilder(s)
	b.AllVideoOff()
	return b.State()
}

// Without returns s without participant id; a pin on id is cleared, since
// only a joined participant can be pinned.
func (s State) Without(id string) State {
	b := NewBuilder(s)
	b.Remove(id)
	return b.State()
}

// WithPinned returns s with id pinned ("" unpins). It returns s unchanged if
// id is neither empty nor joined.
func (s State) WithPinned(id string) State {
	if id != "" && !s.Joined(id) {
		return s
	}
	s.pinned = id
	return s
}

// WithEnded returns s ended: nobody joined, nothing pinned.
func (s State) WithEnded() State {
	s.ended = true
	s.root = nil
	s.count, s.audioOn, s.videoOn = 0, 0, 0
	s.pinned = ""
	return s
}

// Builder makes a State by a series of changes, as the With methods do one
// at a time, for less: from its second change to the participants on, it
// changes in place the trie nodes it has made itself (which no State shares
// yet) instead of copying them again. Folding a log of 100,000 joins with
// one Builder so costs about what a mutable map would, where 100,000 With
// calls copy a path of nodes each.
//
// State returns the state built so far and leaves the Builder usable: later
// changes copy what that State holds, as the With methods do. A Builder is
// a value to keep on the stack or in one goroutine; it is not safe for
// concurrent use.
type Builder struct {
	s        State
	editFrom uint32 // > 0: the nodes stamped editFrom or later are the Builder's own
	changes  int    // changes to the trie since State
}

// NewBuilder returns a Builder that starts from s. s is not changed.
func NewBuilder(s State) Builder { return Builder{s: s} }

// State returns the state built so far.
func (b *Builder) State() State {
	b.editFrom, b.changes = 0, 0
	return b.s
}

// Current returns the state built so far, for reading now: as a
// bytes.Buffer's Bytes, it is valid only until the Builder's next change,
// which may change in place nodes it shares. To keep a state, use State.
func (b *Builder) Current() State { return b.s }

// txn starts a change to the trie. The first change after NewBuilder or State
// copies nodes as the With methods do; the second starts editing in place
// (stamping from a new now, which no node has yet), so that a single change,
// as an Evolve makes, does not move the stamps.
func (b *Builder) txn() txn {
	if b.changes++; b.changes == 2 {
		b.editFrom = b.s.tick()
	}
	return txn{st: b.s.st, editFrom: b.editFrom}
}

// done applies the counts a change made.
func (b *Builder) done(tx *txn) {
	b.s.audioOn += tx.dAudio
	b.s.videoOn += tx.dVideo
}

// Join joins p last in join order, as WithJoined.
func (b *Builder) Join(p Participant) {
	tx := b.txn()
	b.remove(p.ID, &tx)
	b.s.nextOrder++
	m := &member{id: p.ID, name: p.Name, preset: p.Preset, hash: hashID(p.ID), order: b.s.nextOrder}
	e := entry{m: m, audio: p.AudioEnabled, video: p.VideoEnabled}
	b.s.root = put(b.s.root, 0, e, &tx)
	b.s.count++
	tx.counted(e, 1)
	b.done(&tx)
}

// Remove removes participant id, as Without.
func (b *Builder) Remove(id string) {
	tx := b.txn()
	b.remove(id, &tx)
	b.done(&tx)
}

func (b *Builder) remove(id string, tx *txn) {
	root, old, removed := remove(b.s.root, 0, hashID(id), id, tx)
	if !removed {
		return
	}
	b.s.root = root
	b.s.count--
	tx.counted(old, -1)
	if b.s.pinned == id {
		b.s.pinned = ""
	}
}

// SetMedia applies the changes in order, as WithMedia.
func (b *Builder) SetMedia(changes ...MediaChange) {
	if len(changes) == 0 {
		return
	}
	var stack [8]pending // one event's changes need no heap
	var ps []pending
	if 2*len(changes) <= len(stack) {
		ps = stack[:2*len(changes)]
	} else {
		ps = make([]pending, 2*len(changes))
	}
	for i, c := range changes {
		ps[i] = pending{hash: hashID(c.ID), index: i}
	}
	tx := b.txn()
	b.s.root, _ = setMedia(b.s.root, 0, changes, ps[:len(changes)], ps[len(changes):], &tx)
	b.done(&tx)
}

// AllAudioOff turns everyone's audio off, as WithAllAudioOff.
func (b *Builder) AllAudioOff() {
	b.s.st.audio = b.s.tick()
	b.s.audioOn = 0
}

// AllVideoOff turns everyone's video off, as WithAllVideoOff.
func (b *Builder) AllVideoOff() {
	b.s.st.video = b.s.tick()
	b.s.videoOn = 0
}

// Pin pins id ("" unpins), as WithPinned.
func (b *Builder) Pin(id string) { b.s = b.s.WithPinned(id) }

// End ends the session, as WithEnded.
func (b *Builder) End() { b.s = b.s.WithEnded() }

// SetSeq sets the sequence number, as WithSeq.
func (b *Builder) SetSeq(seq uint64) { b.s.seq = seq }

// tick moves the stamps' now on and returns it. Before now would wrap
// around (after four billion disable-alls), the trie is rebuilt with every
// node stamped 0, as if new.
func (s *State) tick() uint32 {
	if s.st.now == math.MaxUint32 {
		s.restamp()
	}
	s.st.now++
	return s.st.now
}

// restamp rebuilds the trie with the same participants and every stamp 0.
func (s *State) restamp() {
	es := appendEntries(nil, s.root, s.st)
	s.root, s.st = nil, stamps{}
	var tx txn
	for _, e := range es {
		s.root = put(s.root, 0, e, &tx)
	}
}

// Snapshot is a State as plain data, in the shape of the SPEC's state JSON
// (presets excluded): what checkpoints hold and what tests compare.
type Snapshot struct {
	Session      string
	Seq          uint64
	Ended        bool
	Pinned       string // "" when nobody is pinned
	Participants []Participant
}

// Snapshot returns s as plain data.
func (s State) Snapshot() Snapshot {
	return Snapshot{Session: s.session, Seq: s.seq, Ended: s.ended, Pinned: s.pinned, Participants: s.Participants()}
}

// Equal reports whether s and o are the same session state, presets
// included. go-cmp uses it.
func (s State) Equal(o State) bool {
	if s.session != o.session || s.seq != o.seq || s.ended != o.ended || s.pinned != o.pinned ||
		s.count != o.count || !maps.Equal(s.presets, o.presets) {
		return false
	}
	return slices.Equal(s.Participants(), o.Participants())
}

// FromSnapshot rebuilds a State from plain data, checking what every State
// guarantees: ids non-empty and unique, presets known, the pinned participant
// joined, and nobody joined once the session has ended.
func FromSnapshot(snap Snapshot, presets Presets) (State, error) {
	b := NewBuilder(NewState(snap.Session, presets))
	if snap.Ended && len(snap.Participants) > 0 {
		return State{}, fmt.Errorf("core: ended session %q has %d participants", snap.Session, len(snap.Participants))
	}
	for _, p := range snap.Participants {
		switch {
		case p.ID == "":
			return State{}, fmt.Errorf("core: participant with an empty id")
		case b.s.Joined(p.ID):
			return State{}, fmt.Errorf("core: participant %q listed twice", p.ID)
		}
		if _, ok := presets[p.Preset]; !ok {
			return State{}, fmt.Errorf("core: participant %q has unknown preset %q", p.ID, p.Preset)
		}
		b.Join(p)
	}
	s := b.State()
	if snap.Pinned != "" && !s.Joined(snap.Pinned) {
		return State{}, fmt.Errorf("core: pinned participant %q is not joined", snap.Pinned)
	}
	s.pinned = snap.Pinned
	s.ended = snap.Ended
	s.seq = snap.Seq
	return s, nil
}
