package relay

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// Home returns the media home of session among nodes, the ids of the live
// nodes: the node of highest rendezvous weight, sha256(node, 0x00,
// session) read as a big-endian integer from its first eight bytes (a tie,
// which takes a hash collision, goes to the greater id). Every node that
// sees the same live nodes computes the same home, in any order of nodes,
// without asking anyone; a node that goes away moves only the sessions it
// was home of, and one that joins takes over only its share. Home returns
// "" when nodes is empty.
func Home(session string, nodes []string) string {
	var home string
	var best uint64
	for _, n := range nodes {
		w := weight(n, session)
		if home == "" || w > best || w == best && n > home {
			home, best = n, w
		}
	}
	return home
}

// weight is node's rendezvous weight for session. A node id never holds a
// NUL (see New), so the input names one pair.
func weight(node, session string) uint64 {
	buf := make([]byte, 0, len(node)+1+len(session))
	buf = append(append(append(buf, node...), 0), session...)
	sum := sha256.Sum256(buf)
	return binary.BigEndian.Uint64(sum[:8])
}

// placement is where one open media connection of a node is: its session,
// the node that serves it (its home when it opened), and, for one this
// node serves for a participant whose socket is on another node, that node.
type placement struct {
	session string
	home    string
	via     string // "" unless served for another node
}

// verdict is what becomes of an open media connection when the live nodes
// change.
type verdict int

const (
	keep     verdict = iota
	moved            // its session's home is another node now: the client connects again
	orphaned         // served for a node that is gone, and with it the participant's socket
)

// judge decides what becomes of the media connection at p when the live
// nodes are nodes.
func judge(nodes []string, p placement) verdict {
	switch {
	case p.via != "" && !slices.Contains(nodes, p.via):
		return orphaned
	case Home(p.session, nodes) != p.home:
		return moved
	}
	return keep
}
