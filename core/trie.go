package core

import "math/bits"

// This file is the persistent HAMT behind State: see the package doc for why.
// Nodes are never modified once reachable from a State; every change copies
// the nodes on one path (put, remove) or the changed paths (mapEntries).

// member is the part of a participant that never changes while it is joined,
// shared by every version of the trie.
type member struct {
	id, name, preset string
	hash             uint64
	order            uint64 // join order: larger joined later
}

// slot is one cell of a trie node: a participant when m is set, else a
// sub-node (bitmap, kids). The root of a State is a sub-node slot.
type slot struct {
	m      *member
	kids   []slot
	bitmap uint32
	audio  bool
	video  bool
}

const (
	levelBits = 5
	levelMask = 1<<levelBits - 1
	// Below maxShift the 64-bit hash is used up; ids whose hashes are equal
	// share a collision list there (kids searched linearly, bitmap unused).
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

func (s *slot) participant() Participant {
	return Participant{ID: s.m.id, Name: s.m.name, Preset: s.m.preset, AudioEnabled: s.audio, VideoEnabled: s.video}
}

func position(bitmap uint32, h uint64, shift uint) (bit uint32, i int) {
	bit = 1 << ((h >> shift) & levelMask)
	return bit, bits.OnesCount32(bitmap & (bit - 1))
}

// find returns the entry for id, or nil.
func find(n *slot, h uint64, id string) *slot {
	for shift := uint(0); ; shift += levelBits {
		if shift > maxShift {
			for i := range n.kids {
				if n.kids[i].m.id == id {
					return &n.kids[i]
				}
			}
			return nil
		}
		bit, i := position(n.bitmap, h, shift)
		if n.bitmap&bit == 0 {
			return nil
		}
		n = &n.kids[i]
		if n.m != nil {
			if n.m.id == id {
				return n
			}
			return nil
		}
	}
}

func withSlot(kids []slot, i int, s slot) []slot {
	c := make([]slot, len(kids))
	copy(c, kids)
	c[i] = s
	return c
}

func insertSlot(kids []slot, i int, s slot) []slot {
	c := make([]slot, len(kids)+1)
	copy(c, kids[:i])
	c[i] = s
	copy(c[i+1:], kids[i:])
	return c
}

func removeSlot(kids []slot, i int) []slot {
	c := make([]slot, len(kids)-1)
	copy(c, kids[:i])
	copy(c[i:], kids[i+1:])
	return c
}

// put returns n with entry e added; e's id must not be in n.
func put(n slot, shift uint, e slot) slot {
	if shift > maxShift {
		return slot{kids: insertSlot(n.kids, len(n.kids), e)}
	}
	bit, i := position(n.bitmap, e.m.hash, shift)
	if n.bitmap&bit == 0 {
		return slot{bitmap: n.bitmap | bit, kids: insertSlot(n.kids, i, e)}
	}
	cur := n.kids[i]
	repl := cur
	if cur.m != nil { // two entries share this cell: push both a level down
		repl = put(slot{}, shift+levelBits, cur)
	}
	repl = put(repl, shift+levelBits, e)
	return slot{bitmap: n.bitmap, kids: withSlot(n.kids, i, repl)}
}

// remove returns n without id's entry; removed is false, and n returned
// unchanged, when id is not there. A sub-node left with a single entry is
// replaced by that entry, so the trie stays as shallow as its contents allow.
func remove(n slot, shift uint, h uint64, id string) (_ slot, removed bool) {
	if shift > maxShift {
		for i := range n.kids {
			if n.kids[i].m.id == id {
				return slot{kids: removeSlot(n.kids, i)}, true
			}
		}
		return n, false
	}
	bit, i := position(n.bitmap, h, shift)
	if n.bitmap&bit == 0 {
		return n, false
	}
	cur := n.kids[i]
	if cur.m != nil {
		if cur.m.id != id {
			return n, false
		}
		return slot{bitmap: n.bitmap &^ bit, kids: removeSlot(n.kids, i)}, true
	}
	sub, removed := remove(cur, shift+levelBits, h, id)
	if !removed {
		return n, false
	}
	if len(sub.kids) == 1 && sub.kids[0].m != nil {
		sub = sub.kids[0]
	}
	return slot{bitmap: n.bitmap, kids: withSlot(n.kids, i, sub)}, true
}

// pending is a change's id hash and its index in the changes: pointer-free,
// so the sorting below copies it without write barriers.
type pending struct {
	hash  uint64
	index int
}

// setMedia returns n with the changes in ps applied, and whether anything
// changed. At each node it groups ps by the node's hash chunk (a stable
// counting sort into scratch, so a participant's changes keep their order)
// and recurses once per child, with the roles of ps and scratch swapped.
func setMedia(n slot, shift uint, changes []MediaChange, ps, scratch []pending) (slot, bool) {
	if shift > maxShift {
		return setMediaInList(n, changes, ps)
	}
	var kids []slot
	if len(ps) == 1 { // one event: no grouping to do
		kids = setMediaInChild(n, kids, shift, (ps[0].hash>>shift)&levelMask, changes, ps, scratch)
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
				kids = setMediaInChild(n, kids, shift, c, changes, group, groupScratch)
			}
		}
	}
	if kids == nil {
		return n, false
	}
	return slot{bitmap: n.bitmap, kids: kids}, true
}

// setMediaInChild applies ps, whose hashes all have chunk c at shift, to
// n's child c. It returns kids, or a copy of n's kids made on the first
// change, with the child replaced.
func setMediaInChild(n slot, kids []slot, shift uint, c uint64, changes []MediaChange, ps, scratch []pending) []slot {
	bit, i := position(n.bitmap, c, 0)
	if n.bitmap&bit == 0 {
		return kids
	}
	var repl slot
	var changed bool
	if n.kids[i].m != nil {
		repl, changed = withMedia(n.kids[i], changes, ps)
	} else {
		repl, changed = setMedia(n.kids[i], shift+levelBits, changes, ps, scratch)
	}
	if !changed {
		return kids
	}
	if kids == nil {
		kids = make([]slot, len(n.kids))
		copy(kids, n.kids)
	}
	kids[i] = repl
	return kids
}

func setMediaInList(n slot, changes []MediaChange, ps []pending) (slot, bool) {
	var kids []slot
	for i := range n.kids {
		repl, changed := withMedia(n.kids[i], changes, ps)
		if changed {
			if kids == nil {
				kids = make([]slot, len(n.kids))
				copy(kids, n.kids)
			}
			kids[i] = repl
		}
	}
	if kids == nil {
		return n, false
	}
	return slot{kids: kids}, true
}

// withMedia applies, in order, the changes of ps that name entry e.
func withMedia(e slot, changes []MediaChange, ps []pending) (slot, bool) {
	audio, video := e.audio, e.video
	for _, p := range ps {
		switch c := &changes[p.index]; {
		case c.ID != e.m.id:
		case c.Video:
			video = c.Enabled
		default:
			audio = c.Enabled
		}
	}
	if audio == e.audio && video == e.video {
		return e, false
	}
	return slot{m: e.m, audio: audio, video: video}, true
}

// appendEntries appends a pointer to every entry under n, in trie order.
func appendEntries(dst []*slot, n *slot) []*slot {
	for i := range n.kids {
		if n.kids[i].m != nil {
			dst = append(dst, &n.kids[i])
		} else {
			dst = appendEntries(dst, &n.kids[i])
		}
	}
	return dst
}
