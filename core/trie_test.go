package core

import (
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"
)

// This test is inside package core to choose ids by their hash: ids whose
// hashes share long runs of low bits go down the same trie path for several
// levels, and ids whose hashes are equal end in a collision list.

// collidingIDs have equal 64-bit FNV-1a hashes: found once with Brent's cycle
// finding over 13-letter ids (about 2^32 hashes, a few minutes of one core).
var collidingIDs = [2]string{"7cqlefsflw3pe", "ntc3cjkjmbzmp"}

// closeIDs returns the n ids, among 1<<16 candidates, whose hashes share the
// most low bits (the trie's first levels) with another candidate, and the
// largest number of bits any two of them share.
func closeIDs(n int) ([]string, int) {
	type cand struct {
		id  string
		key uint64 // the hash reversed, so that sorting groups low bits
	}
	cands := make([]cand, 1<<16)
	for i := range cands {
		id := fmt.Sprintf("id%d", i)
		cands[i] = cand{id, bits.Reverse64(hashID(id))}
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmpUint(a.key, b.key) })
	type pair struct{ i, shared int }
	pairs := make([]pair, len(cands)-1)
	for i := range pairs {
		pairs[i] = pair{i, bits.LeadingZeros64(cands[i].key ^ cands[i+1].key)}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return b.shared - a.shared })
	seen := map[string]bool{}
	var ids []string
	for _, p := range pairs {
		for _, c := range []cand{cands[p.i], cands[p.i+1]} {
			if len(ids) < n && !seen[c.id] {
				seen[c.id] = true
				ids = append(ids, c.id)
			}
		}
	}
	return ids, pairs[0].shared
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// trieModel is the plain version of a State's participants: a map and the
// join order.
type trieModel struct {
	byID   map[string]Participant
	order  []string
	pinned string
}

func (m *trieModel) clone() *trieModel {
	return &trieModel{byID: maps.Clone(m.byID), order: slices.Clone(m.order), pinned: m.pinned}
}

func (m *trieModel) participants() []Participant {
	ps := make([]Participant, len(m.order))
	for i, id := range m.order {
		ps[i] = m.byID[id]
	}
	return ps
}

// allOff turns everyone's audio (or video) off.
func (m *trieModel) allOff(video bool) {
	for id, p := range m.byID {
		if video {
			p.VideoEnabled = false
		} else {
			p.AudioEnabled = false
		}
		m.byID[id] = p
	}
}

// media applies media changes as WithMedia does.
func (m *trieModel) media(cs []MediaChange) {
	for _, c := range cs {
		if p, ok := m.byID[c.ID]; ok {
			if c.Video {
				p.VideoEnabled = c.Enabled
			} else {
				p.AudioEnabled = c.Enabled
			}
			m.byID[c.ID] = p
		}
	}
}

func (m *trieModel) join(p Participant) {
	m.remove(p.ID) // a rejoin: the pin on p.ID goes too
	m.byID[p.ID] = p
	m.order = append(m.order, p.ID)
}

func (m *trieModel) pin(id string) {
	if _, ok := m.byID[id]; ok || id == "" {
		m.pinned = id
	}
}

func (m *trieModel) remove(id string) {
	if _, ok := m.byID[id]; !ok {
		return
	}
	delete(m.byID, id)
	m.order = slices.DeleteFunc(m.order, func(o string) bool { return o == id })
	if m.pinned == id {
		m.pinned = ""
	}
}

// fataler is what checkAgainst needs of *testing.T and *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkAgainst compares s with m through every read State offers, for every
// id of pool, joined or not.
func checkAgainst(t fataler, s State, m *trieModel, pool []string) {
	t.Helper()
	want := m.participants()
	if d := cmp.Diff(want, s.Participants(), cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("Participants (-model +state):\n%s", d)
	}
	if d := cmp.Diff(want, slices.Collect(s.All()), cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("All (-model +state):\n%s", d)
	}
	if s.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(want))
	}
	if s.Pinned() != m.pinned {
		t.Fatalf("Pinned = %q, want %q", s.Pinned(), m.pinned)
	}
	audio, video := 0, 0
	for _, p := range want {
		if p.AudioEnabled {
			audio++
		}
		if p.VideoEnabled {
			video++
		}
	}
	if s.AudioOn() != audio || s.VideoOn() != video {
		t.Fatalf("AudioOn, VideoOn = %d, %d; want %d, %d", s.AudioOn(), s.VideoOn(), audio, video)
	}
	for _, id := range pool {
		p, ok := s.Participant(id)
		wp, wok := m.byID[id]
		if ok != wok || p != wp || s.Joined(id) != wok {
			t.Fatalf("Participant(%q) = %+v, %v (Joined %v); want %+v, %v", id, p, ok, s.Joined(id), wp, wok)
		}
	}
}

func TestStateAgainstMap(t *testing.T) {
	near, shared := closeIDs(24)
	if shared < 4*levelBits {
		t.Fatalf("the closest ids share only %d low hash bits", shared)
	}
	if hashID(collidingIDs[0]) != hashID(collidingIDs[1]) {
		t.Fatalf("%q and %q no longer collide: find a new pair for the hash function", collidingIDs[0], collidingIDs[1])
	}
	pool := slices.Concat([]string{"ann", "bob", "cat", "dan"}, near, collidingIDs[:])

	rapid.Check(t, func(t *rapid.T) {
		type version struct {
			s    State
			m    *trieModel
			snap Snapshot
		}
		s := NewState("room", Presets{"p": {}})
		if rapid.Bool().Draw(t, "stamps near their end") {
			// The stamps wrap around after a few disable-alls: the trie is
			// rebuilt on the way.
			s.st.now = math.MaxUint32 - uint32(rapid.IntRange(0, 3).Draw(t, "stamps left"))
		}
		m := &trieModel{byID: map[string]Participant{}}
		var versions []version
		save := func() { versions = append(versions, version{s, m.clone(), s.Snapshot()}) }

		participant := rapid.Custom(func(t *rapid.T) Participant {
			return Participant{
				ID:           rapid.SampledFrom(pool).Draw(t, "id"),
				Name:         rapid.SampledFrom([]string{"", "N", "Name"}).Draw(t, "name"),
				Preset:       rapid.SampledFrom([]string{"p", "q"}).Draw(t, "preset"),
				AudioEnabled: rapid.Bool().Draw(t, "audio"),
				VideoEnabled: rapid.Bool().Draw(t, "video"),
			}
		})
		change := rapid.Custom(func(t *rapid.T) MediaChange {
			return MediaChange{ID: rapid.SampledFrom(pool).Draw(t, "id"), Video: rapid.Bool().Draw(t, "video"),
				Enabled: rapid.Bool().Draw(t, "enabled")}
		})
		join := func(p Participant) {
			m.join(p)
			s = s.WithJoined(p)
		}

		for range rapid.IntRange(0, len(pool)).Draw(t, "prologue joins") {
			join(participant.Draw(t, "participant"))
			save()
		}

		t.Repeat(map[string]func(*rapid.T){
			"WithJoined": func(t *rapid.T) {
				join(participant.Draw(t, "participant"))
				save()
			},
			"WithMedia": func(t *rapid.T) {
				cs := rapid.SliceOfN(change, 0, 2*len(pool)).Draw(t, "changes")
				m.media(cs)
				s = s.WithMedia(cs...)
				save()
			},
			"WithAllOff": func(t *rapid.T) {
				video := rapid.Bool().Draw(t, "video")
				m.allOff(video)
				if video {
					s = s.WithAllVideoOff()
				} else {
					s = s.WithAllAudioOff()
				}
				save()
			},
			"Without": func(t *rapid.T) {
				id := rapid.SampledFrom(pool).Draw(t, "id")
				m.remove(id)
				s = s.Without(id)
				save()
			},
			"WithPinned": func(t *rapid.T) {
				id := rapid.SampledFrom(append([]string{""}, pool...)).Draw(t, "id")
				m.pin(id)
				s = s.WithPinned(id)
				save()
			},
			// A Builder changes in place what it made itself; the states it
			// returns on the way, and the one it started from, stay as they
			// were.
			"Builder": func(t *rapid.T) {
				b := NewBuilder(s)
				for range rapid.IntRange(1, 3*len(pool)).Draw(t, "changes") {
					switch rapid.IntRange(0, 6).Draw(t, "change") {
					case 0, 1:
						p := participant.Draw(t, "participant")
						m.join(p)
						b.Join(p)
					case 2:
						id := rapid.SampledFrom(pool).Draw(t, "id")
						m.remove(id)
						b.Remove(id)
					case 3:
						cs := rapid.SliceOfN(change, 1, 3).Draw(t, "changes")
						m.media(cs)
						b.SetMedia(cs...)
					case 4:
						video := rapid.Bool().Draw(t, "video")
						m.allOff(video)
						if video {
							b.AllVideoOff()
						} else {
							b.AllAudioOff()
						}
					case 5:
						id := rapid.SampledFrom(append([]string{""}, pool...)).Draw(t, "id")
						m.pin(id)
						b.Pin(id)
					case 6:
						s = b.State()
						save()
					}
				}
				s = b.State()
				save()
			},
			// Go back to an older version and carry on from there: the
			// versions made since must not change.
			"back": func(t *rapid.T) {
				if len(versions) == 0 {
					t.Skip("no versions yet")
				}
				v := versions[rapid.IntRange(0, len(versions)-1).Draw(t, "version")]
				s, m = v.s, v.m.clone()
			},
			"": func(t *rapid.T) {
				checkAgainst(t, s, m, pool)
				for i, v := range versions {
					// cmp.Diff is slow and this runs often: compare plainly first.
					if now := v.s.Snapshot(); !sameSnapshot(v.snap, now) {
						t.Fatalf("version %d changed (-then +now):\n%s", i, cmp.Diff(v.snap, now))
					}
				}
			},
		})
	})
}

// TestStateLarge checks a state of 10,000 participants (a trie four levels
// deep) against a map after joins, media changes, removals and rejoins.
func TestStateLarge(t *testing.T) {
	const n = 10000
	s := NewState("room", Presets{"p": {}})
	m := &trieModel{byID: map[string]Participant{}}
	pool := make([]string, 0, n+10)
	for i := range n {
		p := Participant{ID: fmt.Sprintf("user-%d", i), Preset: "p", AudioEnabled: i%2 == 0}
		pool = append(pool, p.ID)
		s = s.WithJoined(p)
		m.byID[p.ID] = p
		m.order = append(m.order, p.ID)
	}
	pool = append(pool, "user--1", "user-10000", "")
	joined := s

	var changes []MediaChange
	for i := 0; i < n; i += 3 {
		id := fmt.Sprintf("user-%d", i)
		changes = append(changes, MediaChange{ID: id, Video: true, Enabled: true}, MediaChange{ID: id, Enabled: i%9 == 0})
		p := m.byID[id]
		p.VideoEnabled, p.AudioEnabled = true, i%9 == 0
		m.byID[id] = p
	}
	s = s.WithMedia(changes...)
	for i := 0; i < n; i += 5 {
		id := fmt.Sprintf("user-%d", i)
		s = s.Without(id)
		m.remove(id)
	}
	for i := 0; i < n; i += 50 {
		p := Participant{ID: fmt.Sprintf("user-%d", i), Name: "back", Preset: "p", VideoEnabled: true}
		s = s.WithJoined(p)
		m.byID[p.ID] = p
		m.order = append(m.order, p.ID)
	}

	checkAgainst(t, s, m, pool)
	if joined.Len() != n {
		t.Errorf("the first version changed: Len %d", joined.Len())
	}
	for i := 0; i < n; i += 997 {
		id := fmt.Sprintf("user-%d", i)
		if p, ok := joined.Participant(id); !ok || p.VideoEnabled || p.Name != "" {
			t.Errorf("the first version changed: %+v, %v", p, ok)
		}
	}
}

func sameSnapshot(a, b Snapshot) bool {
	return a.Session == b.Session && a.Seq == b.Seq && a.Ended == b.Ended && a.Pinned == b.Pinned &&
		slices.Equal(a.Participants, b.Participants)
}
