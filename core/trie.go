package core

import (
	"math/bits"
	"slices"
	"unsafe"
)

// This file is the persistent HAMT behind State: see the package doc for the
// layout and why. A node reachable from a State is never modified, with one
// exception: a Builder changes in place the nodes it made itself, which no
// State shares until Builder.State returns (see txn.owns).

// member is the part of a participant that never changes while it is joined,
// shared by every version of the trie.
type member struct {
	id, name, preset string
	hash             uint64
	order            uint64 // join order: larger joined later
}

// entry is a participant: its member and its media.
type entry struct {
	m            *member
	audio, video bool
}

func (e entry) participant() Participant {
	return Participant{ID: e.m.id, Name: e.m.name, Preset: e.m.preset, AudioEnabled: e.audio, VideoEnabled: e.video}
}

// stamps are a State's clock for media bits. now is bumped by every
// disable-all (and by a Builder starting to change nodes in place); audio
// and video are the now of the last disable-all of each medium. A node
// records the now at which its media bits were last written: bits written
// before the last disable-all of their medium read as off. So turning a
// medium off for everyone touches no node, and a node is brought up to date
// when a change copies it anyway.
type stamps struct {
	now, audio, video uint32
}

// header is a node without its kids, and the start of every node. Bit c of
// bitmap is set when the node has a kid for hash chunk c; kids are kept in
// chunk order. A kid is a *member when its bit is set in leaves, whose media
// are its bits in audio and video as of stamp, or else a sub-node (a
// *nodeK, or *collisions below the last level), whose media bits are 0.
// class says which of the node types the header starts.
type header struct {
	bitmap, leaves, audio, video uint16
	stamp                        uint32
	class                        uint8
}

// The node types, by class.
const (
	class2 uint8 = iota
	class4
	class8
	class16
	classCollisions
)

// media returns the node's media bits as they are at st.
func (h *header) media(st stamps) (audio, video uint16) {
	audio, video = h.audio, h.video
	if h.stamp < st.audio {
		audio = 0
	}
	if h.stamp < st.video {
		video = 0
	}
	return audio, video
}

func (h *header) entry(m *member, bit uint16, st stamps) entry {
	audio, video := h.media(st)
	return entry{m: m, audio: audio&bit != 0, video: video&bit != 0}
}

// set makes the media bits of kid bit those of e. h must be up to date (see
// txn.mutable).
func (h *header) set(bit uint16, e entry) {
	h.audio, h.video = h.audio&^bit, h.video&^bit
	if e.audio {
		h.audio |= bit
	}
	if e.video {
		h.video |= bit
	}
}

// A node is one of these, the smallest that holds its kids (up to 16, one
// per hash chunk of 4 bits), so that copying it is one allocation of 8
// bytes a kid and its header.
//
// A kid is one machine word, an unsafe.Pointer that the header's leaves
// bitmap types: a *member, or a node, read through its header and then as
// the node type its class names. Every conversion is to the type the
// pointer was made from (rule 1 of unsafe.Pointer: a node starts with its
// header), and the garbage collector traces an unsafe.Pointer as any
// pointer. A kid as an interface (type word and data word) made every node
// copied by a change twice as large, and the collector's work on those
// copies is most of a change's cost in a large session.
type (
	node2 struct {
		header
		kids [2]unsafe.Pointer
	}
	node4 struct {
		header
		kids [4]unsafe.Pointer
	}
	node8 struct {
		header
		kids [8]unsafe.Pointer
	}
	node16 struct {
		header
		kids [16]unsafe.Pointer
	}
)

// hdr returns the header node p starts with.
func hdr(p unsafe.Pointer) *header { return (*header)(p) }

// slots returns all the kid slots of node p, up to its capacity.
func slots(p unsafe.Pointer) []unsafe.Pointer {
	switch hdr(p).class { // large first: the top of a large trie
	case class16:
		return (*node16)(p).kids[:]
	case class8:
		return (*node8)(p).kids[:]
	case class4:
		return (*node4)(p).kids[:]
	case class2:
		return (*node2)(p).kids[:]
	}
	return nil
}

// nodeOf returns the header and kids of node p; nil is the empty node.
func nodeOf(p unsafe.Pointer) (header, []unsafe.Pointer) {
	if p == nil {
		return header{}, nil
	}
	return *hdr(p), slots(p)[:bits.OnesCount16(hdr(p).bitmap)]
}

// newNode returns a new node with header h and room for n kids, its header
// and its first n kid slots, for the caller to fill before the node is
// shared.
func newNode(h header, n int) (unsafe.Pointer, *header, []unsafe.Pointer) {
	switch {
	case n <= 2:
		h.class = class2
		x := &node2{header: h}
		return unsafe.Pointer(x), &x.header, x.kids[:n]
	case n <= 4:
		h.class = class4
		x := &node4{header: h}
		return unsafe.Pointer(x), &x.header, x.kids[:n]
	case n <= 8:
		h.class = class8
		x := &node8{header: h}
		return unsafe.Pointer(x), &x.header, x.kids[:n]
	default:
		h.class = class16
		x := &node16{header: h}
		return unsafe.Pointer(x), &x.header, x.kids[:n]
	}
}

// collisions holds the entries whose 64-bit hashes are equal, below the last
// level: searched linearly, and as rare as such hashes. Their media are as
// of the header's stamp, as in a node.
type collisions struct {
	header
	entries []entry
}

func newCollisions(stamp uint32, es []entry) unsafe.Pointer {
	return unsafe.Pointer(&collisions{header: header{stamp: stamp, class: classCollisions}, entries: es})
}

// asCollisions returns node p as a *collisions, or nil if it is another
// node.
func asCollisions(p unsafe.Pointer) *collisions {
	if p == nil || hdr(p).class != classCollisions {
		return nil
	}
	return (*collisions)(p)
}

func (c *collisions) index(id string) int {
	return slices.IndexFunc(c.entries, func(e entry) bool { return e.m.id == id })
}

// entry returns entry i as it is at st.
func (c *collisions) entry(i int, st stamps) entry {
	e := c.entries[i]
	e.audio = e.audio && c.stamp >= st.audio
	e.video = e.video && c.stamp >= st.video
	return e
}

// appendTo appends the entries as they are at st.
func (c *collisions) appendTo(dst []entry, st stamps) []entry {
	for i := range c.entries {
		dst = append(dst, c.entry(i, st))
	}
	return dst
}

const (
	levelBits = 4
	levelMask = 1<<levelBits - 1
	// Below maxShift the 64-bit hash is used up; ids whose hashes are equal
	// share a collisions list there.
	maxShift = 60
)

// hashID is FNV-1a, 64 bits: deterministic across processes (no seed), which
// keeps trie shapes, and so benchmarks, reproducible.
func hashID(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

func position(bitmap uint16, h uint64, shift uint) (bit uint16, i int) {
	bit = 1 << ((h >> shift) & levelMask)
	return bit, bits.OnesCount16(bitmap & (bit - 1))
}

// find returns the entry for id under node p, as it is at st.
func find(p unsafe.Pointer, h uint64, id string, st stamps) (entry, bool) {
	for shift := uint(0); p != nil; shift += levelBits {
		if c := asCollisions(p); c != nil {
			if i := c.index(id); i >= 0 {
				return c.entry(i, st), true
			}
			return entry{}, false
		}
		hd := hdr(p)
		bit, i := position(hd.bitmap, h, shift)
		if hd.bitmap&bit == 0 {
			return entry{}, false
		}
		kid := slots(p)[i]
		if hd.leaves&bit != 0 {
			m := (*member)(kid)
			if m.id != id {
				return entry{}, false
			}
			return hd.entry(m, bit, st), true
		}
		p = kid
	}
	return entry{}, false
}

// txn is one change to a trie: the state's stamps, whether some nodes may be
// changed in place, and what the change does to the media counts.
type txn struct {
	st stamps
	// editFrom, when above 0, is the stamp a Builder took when it started
	// changing nodes in place: the nodes stamped editFrom or later are its
	// own, made since then, and shared by no State. Every node a State holds
	// was stamped at or before that State's now, so no other node passes.
	editFrom uint32
	// dAudio and dVideo count the participants whose audio or video the
	// change turned on (+1) or off (-1).
	dAudio, dVideo int
}

func (tx *txn) owns(stamp uint32) bool { return tx.editFrom > 0 && stamp >= tx.editFrom }

// counted notes that e joined (delta 1) or left (delta -1).
func (tx *txn) counted(e entry, delta int) {
	if e.audio {
		tx.dAudio += delta
	}
	if e.video {
		tx.dVideo += delta
	}
}

// mutable returns a node to change instead of node p (whose header and kids
// are hd and kids), with n kid slots: p itself if tx owns it and it has the
// room, else a new node holding p's kids (as many as fit). Either way the
// header's media bits are brought up to date and stamped now.
func (tx *txn) mutable(p unsafe.Pointer, hd header, kids []unsafe.Pointer, n int) (unsafe.Pointer, *header, []unsafe.Pointer) {
	hd.audio, hd.video = hd.media(tx.st)
	hd.stamp = tx.st.now
	if p != nil && tx.owns(hdr(p).stamp) {
		if all := slots(p); n <= len(all) {
			*hdr(p) = hd
			return p, hdr(p), all[:n]
		}
	}
	x, h, nk := newNode(hd, n)
	copy(nk, kids)
	return x, h, nk
}

// put returns node p with e added; e's id must not be in p.
func put(p unsafe.Pointer, shift uint, e entry, tx *txn) unsafe.Pointer {
	if shift > maxShift {
		return withCollision(asCollisions(p), e, tx)
	}
	hd, kids := nodeOf(p)
	bit, i := position(hd.bitmap, e.m.hash, shift)
	if hd.bitmap&bit == 0 {
		n, h, nk := tx.mutable(p, hd, kids, len(kids)+1)
		copy(nk[i+1:], nk[i:len(kids)])
		nk[i] = unsafe.Pointer(e.m)
		h.bitmap |= bit
		h.leaves |= bit
		h.set(bit, e)
		return n
	}
	sub := kids[i]
	if hd.leaves&bit != 0 { // two entries share this cell: push both a level down
		pushed := put(nil, shift+levelBits, hd.entry((*member)(sub), bit, tx.st), tx)
		n, h, nk := tx.mutable(p, hd, kids, len(kids))
		h.set(bit, entry{})
		h.leaves &^= bit
		nk[i] = put(pushed, shift+levelBits, e, tx)
		return n
	}
	child := put(sub, shift+levelBits, e, tx)
	if child == sub { // changed in place, and so was p's path to it
		return p
	}
	n, _, nk := tx.mutable(p, hd, kids, len(kids))
	nk[i] = child
	return n
}

func withCollision(c *collisions, e entry, tx *txn) unsafe.Pointer {
	if c == nil {
		return newCollisions(tx.st.now, []entry{e})
	}
	if tx.owns(c.stamp) {
		c.entries = c.appendTo(c.entries[:0], tx.st) // up to date, in place
		c.entries = append(c.entries, e)
		c.stamp = tx.st.now
		return unsafe.Pointer(c)
	}
	es := c.appendTo(make([]entry, 0, len(c.entries)+1), tx.st)
	return newCollisions(tx.st.now, append(es, e))
}

// remove returns node p without id's entry, and that entry; removed is
// false, and p returned unchanged, when id is not there. A sub-node left
// with a single entry is replaced by that entry, so the trie stays as
// shallow as its contents allow; a root left empty is nil.
func remove(p unsafe.Pointer, shift uint, h uint64, id string, tx *txn) (_ unsafe.Pointer, old entry, removed bool) {
	if c := asCollisions(p); c != nil {
		i := c.index(id)
		if i < 0 {
			return p, entry{}, false
		}
		old = c.entry(i, tx.st)
		es := c.appendTo(make([]entry, 0, len(c.entries)), tx.st)
		return newCollisions(tx.st.now, slices.Delete(es, i, i+1)), old, true
	}
	hd, kids := nodeOf(p)
	bit, i := position(hd.bitmap, h, shift)
	if hd.bitmap&bit == 0 {
		return p, entry{}, false
	}
	if hd.leaves&bit == 0 {
		sub, old, removed := remove(kids[i], shift+levelBits, h, id, tx)
		if !removed {
			return p, entry{}, false
		}
		if e, ok := only(sub, tx.st); ok {
			n, nh, nk := tx.mutable(p, hd, kids, len(kids))
			nh.set(bit, e)
			nh.leaves |= bit
			nk[i] = unsafe.Pointer(e.m)
			return n, old, true
		}
		if sub == kids[i] {
			return p, old, true
		}
		n, _, nk := tx.mutable(p, hd, kids, len(kids))
		nk[i] = sub
		return n, old, true
	}
	m := (*member)(kids[i])
	if m.id != id {
		return p, entry{}, false
	}
	old = hd.entry(m, bit, tx.st)
	if hd.bitmap == bit {
		return nil, old, true
	}
	n, nh, nk := tx.mutable(p, hd, kids, len(kids)-1)
	copy(nk[i:], kids[i+1:])
	if n == p { // in place: clear the slot left over
		kids[len(kids)-1] = nil
	}
	nh.set(bit, entry{})
	nh.bitmap &^= bit
	nh.leaves &^= bit
	return n, old, true
}

// only returns the entry of sub-node p, as it is at st, if it holds just one.
func only(p unsafe.Pointer, st stamps) (entry, bool) {
	if c := asCollisions(p); c != nil {
		if len(c.entries) == 1 {
			return c.entry(0, st), true
		}
		return entry{}, false
	}
	hd, kids := nodeOf(p)
	if len(kids) == 1 && hd.leaves != 0 {
		return hd.entry((*member)(kids[0]), hd.bitmap, st), true
	}
	return entry{}, false
}

// pending is a change's id hash and its index in the changes: pointer-free,
// so the sorting below copies it without write barriers.
type pending struct {
	hash  uint64
	index int
}

// draft is the node that setMedia changes, made on the first change.
type draft struct {
	p    unsafe.Pointer // nil until made
	hd   *header
	kids []unsafe.Pointer
}

// begin makes the node to change (see txn.mutable) unless it is made already.
func (d *draft) begin(p unsafe.Pointer, hd header, kids []unsafe.Pointer, tx *txn) {
	if d.p == nil {
		d.p, d.hd, d.kids = tx.mutable(p, hd, kids, len(kids))
	}
}

// setMedia returns node p with the changes in ps applied, and whether
// anything changed. At each node it groups ps by the node's hash chunk (a
// stable counting sort into scratch, so a participant's changes keep their
// order) and recurses once per child, with the roles of ps and scratch
// swapped.
func setMedia(p unsafe.Pointer, shift uint, changes []MediaChange, ps, scratch []pending, tx *txn) (unsafe.Pointer, bool) {
	if c := asCollisions(p); c != nil {
		return setMediaInList(c, changes, ps, tx)
	}
	hd, kids := nodeOf(p)
	var d draft
	if len(ps) == 1 { // one event: no grouping to do
		setMediaInChild(&d, p, hd, kids, shift, (ps[0].hash>>shift)&levelMask, changes, ps, scratch, tx)
	} else {
		var starts [levelMask + 2]int
		for _, pe := range ps {
			starts[(pe.hash>>shift)&levelMask+1]++
		}
		for i := 1; i < len(starts); i++ {
			starts[i] += starts[i-1]
		}
		next := starts
		for _, pe := range ps {
			c := (pe.hash >> shift) & levelMask
			scratch[next[c]] = pe
			next[c]++
		}
		for c := range uint64(levelMask + 1) {
			if starts[c] < starts[c+1] {
				group, groupScratch := scratch[starts[c]:starts[c+1]], ps[starts[c]:starts[c+1]]
				setMediaInChild(&d, p, hd, kids, shift, c, changes, group, groupScratch, tx)
			}
		}
	}
	if d.p == nil {
		return p, false
	}
	return d.p, true
}

// setMediaInChild applies ps, whose hashes all have chunk c at shift, to
// child c of node p (hd, kids), in d.
func setMediaInChild(d *draft, p unsafe.Pointer, hd header, kids []unsafe.Pointer, shift uint, c uint64, changes []MediaChange, ps, scratch []pending, tx *txn) {
	bit, i := position(hd.bitmap, c, 0)
	if hd.bitmap&bit == 0 {
		return
	}
	if hd.leaves&bit != 0 {
		// One participant's changes are all in one group: hd has its bits.
		if e, changed := withMedia(hd.entry((*member)(kids[i]), bit, tx.st), changes, ps, tx); changed {
			d.begin(p, hd, kids, tx)
			d.hd.set(bit, e)
		}
		return
	}
	if sub, changed := setMedia(kids[i], shift+levelBits, changes, ps, scratch, tx); changed {
		d.begin(p, hd, kids, tx)
		d.kids[i] = sub
	}
}

func setMediaInList(c *collisions, changes []MediaChange, ps []pending, tx *txn) (unsafe.Pointer, bool) {
	var es []entry
	for i := range c.entries {
		if repl, changed := withMedia(c.entry(i, tx.st), changes, ps, tx); changed {
			if es == nil {
				es = c.appendTo(make([]entry, 0, len(c.entries)), tx.st)
			}
			es[i] = repl
		}
	}
	if es == nil {
		return unsafe.Pointer(c), false
	}
	return newCollisions(tx.st.now, es), true
}

// withMedia applies, in order, the changes of ps that name entry e, and
// counts what they turned on or off.
func withMedia(e entry, changes []MediaChange, ps []pending, tx *txn) (entry, bool) {
	repl := e
	for _, pe := range ps {
		switch c := &changes[pe.index]; {
		case c.ID != e.m.id:
		case c.Video:
			repl.video = c.Enabled
		default:
			repl.audio = c.Enabled
		}
	}
	if repl == e {
		return e, false
	}
	tx.counted(e, -1)
	tx.counted(repl, 1)
	return repl, true
}

// appendEntries appends every entry under node p, as it is at st, in trie
// order.
func appendEntries(dst []entry, p unsafe.Pointer, st stamps) []entry {
	if p == nil {
		return dst
	}
	if c := asCollisions(p); c != nil {
		return c.appendTo(dst, st)
	}
	hd, kids := nodeOf(p)
	audio, video := hd.media(st)
	rest := hd.bitmap
	for _, kid := range kids {
		bit := rest & -rest
		rest &^= bit
		if hd.leaves&bit != 0 {
			dst = append(dst, entry{m: (*member)(kid), audio: audio&bit != 0, video: video&bit != 0})
		} else {
			dst = appendEntries(dst, kid, st)
		}
	}
	return dst
}
