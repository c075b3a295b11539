package relay

import (
	"fmt"
	"slices"
	"testing"
)

var three = []string{"node-a", "node-b", "node-c"}

// TestHome: the homes are fixed by the hash, so that nodes of different
// versions agree: a change of Home splits every cluster being upgraded.
// (sha256 of "node-a\x00room-1" starts 682baee86e9ab982, as sha256sum says.)
func TestHome(t *testing.T) {
	if w := weight("node-a", "room-1"); w != 0x682baee86e9ab982 {
		t.Errorf("weight(node-a, room-1) = %x, want 682baee86e9ab982", w)
	}
	for _, tc := range []struct {
		session string
		nodes   []string
		want    string
	}{
		{"room-1", three, "node-b"},
		{"room-1", []string{"node-a", "node-c"}, "node-c"},
		{"room-1", []string{"node-a", "node-b"}, "node-b"},
		{"room-2", three, "node-c"},
		{"room-2", []string{"node-a", "node-b"}, "node-a"},
		{"room-3", three, "node-b"},
		{"room-3", []string{"node-a", "node-c"}, "node-a"},
		{"a", three, "node-a"},
		{"é", three, "node-c"},
		{"room-1\x00x", three, "node-c"}, // any bytes after the separator
		{"room-1", []string{"node-a"}, "node-a"},
		{"room-1", nil, ""},
	} {
		if got := Home(tc.session, tc.nodes); got != tc.want {
			t.Errorf("Home(%q, %q) = %q, want %q", tc.session, tc.nodes, got, tc.want)
		}
	}
}

// TestHomeProperties: every order of the nodes gives the same home; a node
// that goes away moves only its own sessions, and one that joins takes
// only sessions to itself; the sessions spread evenly.
func TestHomeProperties(t *testing.T) {
	four := append(slices.Clone(three), "node-d")
	count := map[string]int{}
	const sessions = 3000
	for i := range sessions {
		s := fmt.Sprintf("session-%d", i)
		h := Home(s, three)
		count[h]++
		for _, order := range [][]string{{"node-c", "node-b", "node-a"}, {"node-b", "node-c", "node-a"}} {
			if got := Home(s, order); got != h {
				t.Fatalf("%s: home %s in order %q, %s in %q", s, got, order, h, three)
			}
		}
		for _, gone := range three {
			rest := slices.DeleteFunc(slices.Clone(three), func(n string) bool { return n == gone })
			if got := Home(s, rest); gone != h && got != h {
				t.Fatalf("%s: %s left, home %s moved to %s", s, gone, h, got)
			}
		}
		if got := Home(s, four); got != h && got != "node-d" {
			t.Fatalf("%s: node-d joined, home %s moved to %s", s, h, got)
		}
	}
	for _, n := range three {
		if c := count[n]; c < sessions/3*85/100 || c > sessions/3*115/100 {
			t.Errorf("%s is home of %d of %d sessions, want a third ±15%%", n, c, sessions)
		}
	}
}

// TestJudge: what becomes of an open media connection when the live nodes
// change.
func TestJudge(t *testing.T) {
	// room-1 is homed at node-b among three, at node-c without node-b.
	for _, tc := range []struct {
		name  string
		nodes []string
		p     placement
		want  verdict
	}{
		{"its home stays", three, placement{session: "room-1", home: "node-b"}, keep},
		{"another node left", []string{"node-b", "node-c"}, placement{session: "room-1", home: "node-b"}, keep},
		{"its home left", []string{"node-a", "node-c"}, placement{session: "room-1", home: "node-b"}, moved},
		{"a node joined and took it", []string{"node-a", "node-c"}, placement{session: "room-1", home: "node-a"}, moved},
		{"no node is live", nil, placement{session: "room-1", home: "node-b"}, moved},
		{"served, its relay stays", three, placement{session: "room-1", home: "node-b", via: "node-a"}, keep},
		{"served, its relay left", []string{"node-b", "node-c"}, placement{session: "room-1", home: "node-b", via: "node-a"}, orphaned},
		{"served, both left", []string{"node-c"}, placement{session: "room-1", home: "node-b", via: "node-a"}, orphaned},
		{"served, its home moved", []string{"node-a", "node-c"}, placement{session: "room-1", home: "node-b", via: "node-a"}, moved},
	} {
		if got := judge(tc.nodes, tc.p); got != tc.want {
			t.Errorf("%s: judge(%q, %+v) = %d, want %d", tc.name, tc.nodes, tc.p, got, tc.want)
		}
	}
}
