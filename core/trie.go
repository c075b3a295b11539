package core

import (
	"math/bits"
	"slices"
)

// This file is the persistent HAMT behind State: see the package doc for the
// layout and why. Nodes are never modified once reachable from a State; every
// change copies the nodes on one path (put, remove) or the changed paths
// (setMedia).

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

// header is a node without its kids. Bit c of bitmap is set when the node
// has a kid for hash chunk c; kids are kept in chunk order. A kid is a
// *member, whose media are its bits in audio and video, or a sub-node
// (a *nodeK, or *collisions below the last level), whose media bits are 0.
type header struct {
	bitmap, audio, video uint32
}

func (h header) entry(m *member, bit uint32) entry {
	return entry{m: m, audio: h.audio&bit != 0, video: h.video&bit != 0}
}

// set makes the media bits of kid bit those of e.
func (h *header) set(bit uint32, e entry) {
	h.audio, h.video = h.audio&^bit, h.video&^bit
	if e.audio {
		h.audio |= bit
	}
	if e.video {
		h.video |= bit
	}
}

// A node is one of these, the smallest that holds its kids, so that copying
// it is one allocation of about 16 bytes a kid.
type (
	node2 struct {
		header
		kids [2]any
	}
	node4 struct {
		header
		kids [4]any
	}
	node8 struct {
		header
		kids [8]any
	}
	node16 struct {
		header
		kids [16]any
	}
	node32 struct {
		header
		kids [32]any
	}
)

// nodeOf returns the header and kids of node ref; nil is the empty node.
func nodeOf(ref any) (header, []any) {
	switch n := ref.(type) { // large first: the top of a large trie
	case *node32:
		return n.header, n.kids[:bits.OnesCount32(n.bitmap)]
	case *node16:
		return n.header, n.kids[:bits.OnesCount32(n.bitmap)]
	case *node8:
		return n.header, n.kids[:bits.OnesCount32(n.bitmap)]
	case *node4:
		return n.header, n.kids[:bits.OnesCount32(n.bitmap)]
	case *node2:
		return n.header, n.kids[:bits.OnesCount32(n.bitmap)]
	}
	return header{}, nil
}

// newNode returns a new node with header h, its header and its kids, for the
// caller to fill before the node is shared.
func newNode(h header) (any, *header, []any) {
	switch n := bits.OnesCount32(h.bitmap); {
	case n <= 2:
		x := &node2{header: h}
		return x, &x.header, x.kids[:n]
	case n <= 4:
		x := &node4{header: h}
		return x, &x.header, x.kids[:n]
	case n <= 8:
		x := &node8{header: h}
		return x, &x.header, x.kids[:n]
	case n <= 16:
		x := &node16{header: h}
		return x, &x.header, x.kids[:n]
	default:
		x := &node32{header: h}
		return x, &x.header, x.kids[:n]
	}
}

// withKid returns a node with header h and kids, kid i replaced.
func withKid(h header, kids []any, i int, kid any) any {
	n, _, nk := newNode(h)
	copy(nk, kids)
	nk[i] = kid
	return n
}

// collisions holds the entries whose 64-bit hashes are equal, below the last
// level: searched linearly, and as rare as such hashes.
type collisions struct{ entries []entry }

func (c *collisions) index(id string) int {
	return slices.IndexFunc(c.entries, func(e entry) bool { return e.m.id == id })
}

const (
	levelBits = 5
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

func position(bitmap uint32, h uint64, shift uint) (bit uint32, i int) {
	bit = 1 << ((h >> shift) & levelMask)
	return bit, bits.OnesCount32(bitmap & (bit - 1))
}

// find returns the entry for id under node ref.
func find(ref any, h uint64, id string) (entry, bool) {
	for shift := uint(0); ref != nil; shift += levelBits {
		if shift > maxShift {
			if c, ok := ref.(*collisions); ok {
				if i := c.index(id); i >= 0 {
					return c.entries[i], true
				}
			}
			return entry{}, false
		}
		hd, kids := nodeOf(ref)
		bit, i := position(hd.bitmap, h, shift)
		if hd.bitmap&bit == 0 {
			return entry{}, false
		}
		if m, ok := kids[i].(*member); ok {
			if m.id != id {
				return entry{}, false
			}
			return hd.entry(m, bit), true
		}
		ref = kids[i]
	}
	return entry{}, false
}

// put returns node ref with e added; e's id must not be in ref.
func put(ref any, shift uint, e entry) any {
	if shift > maxShift {
		var es []entry
		if c, ok := ref.(*collisions); ok {
			es = c.entries
		}
		return &collisions{entries: append(slices.Clip(es), e)}
	}
	hd, kids := nodeOf(ref)
	bit, i := position(hd.bitmap, e.m.hash, shift)
	if hd.bitmap&bit == 0 {
		hd.bitmap |= bit
		hd.set(bit, e)
		n, _, nk := newNode(hd)
		copy(nk, kids[:i])
		nk[i] = e.m
		copy(nk[i+1:], kids[i:])
		return n
	}
	sub := kids[i]
	if m, ok := sub.(*member); ok { // two entries share this cell: push both a level down
		sub = put(nil, shift+levelBits, hd.entry(m, bit))
		hd.set(bit, entry{})
	}
	return withKid(hd, kids, i, put(sub, shift+levelBits, e))
}

// remove returns node ref without id's entry; removed is false, and ref
// returned unchanged, when id is not there. A sub-node left with a single
// entry is replaced by that entry, so the trie stays as shallow as its
// contents allow; a root left empty is nil.
func remove(ref any, shift uint, h uint64, id string) (_ any, removed bool) {
	if c, ok := ref.(*collisions); ok {
		i := c.index(id)
		if i < 0 {
			return ref, false
		}
		return &collisions{entries: slices.Delete(slices.Clone(c.entries), i, i+1)}, true
	}
	hd, kids := nodeOf(ref)
	bit, i := position(hd.bitmap, h, shift)
	if hd.bitmap&bit == 0 {
		return ref, false
	}
	m, ok := kids[i].(*member)
	if !ok {
		sub, removed := remove(kids[i], shift+levelBits, h, id)
		if !removed {
			return ref, false
		}
		if e, ok := only(sub); ok {
			hd.set(bit, e)
			return withKid(hd, kids, i, e.m), true
		}
		return withKid(hd, kids, i, sub), true
	}
	if m.id != id {
		return ref, false
	}
	hd.bitmap &^= bit
	if hd.bitmap == 0 {
		return nil, true
	}
	hd.set(bit, entry{})
	n, _, nk := newNode(hd)
	copy(nk, kids[:i])
	copy(nk[i:], kids[i+1:])
	return n, true
}

// only returns the entry of sub-node ref if it holds just one.
func only(ref any) (entry, bool) {
	if c, ok := ref.(*collisions); ok {
		if len(c.entries) == 1 {
			return c.entries[0], true
		}
		return entry{}, false
	}
	hd, kids := nodeOf(ref)
	if len(kids) == 1 {
		if m, ok := kids[0].(*member); ok {
			return hd.entry(m, hd.bitmap), true
		}
	}
	return entry{}, false
}

// pending is a change's id hash and its index in the changes: pointer-free,
// so the sorting below copies it without write barriers.
type pending struct {
	hash  uint64
	index int
}

// draft is the copy of a node that setMedia makes on the first change.
type draft struct {
	ref  any // nil until made
	hd   *header
	kids []any
}

// begin makes the copy of the node (hd, kids) unless it is made already.
func (d *draft) begin(hd header, kids []any) {
	if d.ref == nil {
		d.ref, d.hd, d.kids = newNode(hd)
		copy(d.kids, kids)
	}
}

// setMedia returns node ref with the changes in ps applied, and whether
// anything changed. At each node it groups ps by the node's hash chunk (a
// stable counting sort into scratch, so a participant's changes keep their
// order) and recurses once per child, with the roles of ps and scratch
// swapped.
func setMedia(ref any, shift uint, changes []MediaChange, ps, scratch []pending) (any, bool) {
	if c, ok := ref.(*collisions); ok {
		return setMediaInList(c, changes, ps)
	}
	hd, kids := nodeOf(ref)
	var d draft
	if len(ps) == 1 { // one event: no grouping to do
		setMediaInChild(&d, hd, kids, shift, (ps[0].hash>>shift)&levelMask, changes, ps, scratch)
	} else {
		var starts [levelMask + 2]int
		for _, p := range ps {
			starts[(p.hash>>shift)&levelMask+1]++
		}
		for i := 1; i < len(starts); i++ {
			starts[i] += starts[i-1]
		}
		next := starts
		for _, p := range ps {
			c := (p.hash >> shift) & levelMask
			scratch[next[c]] = p
			next[c]++
		}
		for c := range uint64(levelMask + 1) {
			if starts[c] < starts[c+1] {
				group, groupScratch := scratch[starts[c]:starts[c+1]], ps[starts[c]:starts[c+1]]
				setMediaInChild(&d, hd, kids, shift, c, changes, group, groupScratch)
			}
		}
	}
	if d.ref == nil {
		return ref, false
	}
	return d.ref, true
}

// setMediaInChild applies ps, whose hashes all have chunk c at shift, to
// child c of the node (hd, kids), in d.
func setMediaInChild(d *draft, hd header, kids []any, shift uint, c uint64, changes []MediaChange, ps, scratch []pending) {
	bit, i := position(hd.bitmap, c, 0)
	if hd.bitmap&bit == 0 {
		return
	}
	if m, ok := kids[i].(*member); ok {
		if e, changed := withMedia(hd.entry(m, bit), changes, ps); changed {
			d.begin(hd, kids)
			d.hd.set(bit, e)
		}
		return
	}
	if sub, changed := setMedia(kids[i], shift+levelBits, changes, ps, scratch); changed {
		d.begin(hd, kids)
		d.kids[i] = sub
	}
}

func setMediaInList(c *collisions, changes []MediaChange, ps []pending) (any, bool) {
	var es []entry
	for i, e := range c.entries {
		if repl, changed := withMedia(e, changes, ps); changed {
			if es == nil {
				es = slices.Clone(c.entries)
			}
			es[i] = repl
		}
	}
	if es == nil {
		return c, false
	}
	return &collisions{entries: es}, true
}

// withMedia applies, in order, the changes of ps that name entry e.
func withMedia(e entry, changes []MediaChange, ps []pending) (entry, bool) {
	repl := e
	for _, p := range ps {
		switch c := &changes[p.index]; {
		case c.ID != e.m.id:
		case c.Video:
			repl.video = c.Enabled
		default:
			repl.audio = c.Enabled
		}
	}
	return repl, repl != e
}

// appendEntries appends every entry under node ref, in trie order.
func appendEntries(dst []entry, ref any) []entry {
	if c, ok := ref.(*collisions); ok {
		return append(dst, c.entries...)
	}
	hd, kids := nodeOf(ref)
	rest := hd.bitmap
	for _, kid := range kids {
		bit := rest & -rest
		rest &^= bit
		if m, ok := kid.(*member); ok {
			dst = append(dst, hd.entry(m, bit))
		} else {
			dst = appendEntries(dst, kid)
		}
	}
	return dst
}
