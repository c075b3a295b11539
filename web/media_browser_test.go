package web_test

import (
	"fmt"
	"testing"
)

// stats are a track's inbound-rtp counters at a viewer.
type stats struct {
	Packets int64
	Frames  int64
	Last    float64
}

func inbound(p *page, id, kind string) stats {
	p.t.Helper()
	s := eval[*stats](p, fmt.Sprintf(`h.inbound(%s, %s)`, js(id), js(kind)))
	if s == nil {
		return stats{}
	}
	return *s
}

// waitPackets waits until p has received more than n packets of id's kind.
func waitPackets(p *page, id, kind string, n int64) {
	p.t.Helper()
	p.wait(fmt.Sprintf("%s's %s beyond %d packets", id, kind, n),
		fmt.Sprintf(`h.inbound(%s, %s).then(s => s !== null && s.packets > %d)`, js(id), js(kind), n))
}

// waitFrames waits until p has decoded more than n frames of id's video.
func waitFrames(p *page, id string, n int64) {
	p.t.Helper()
	p.wait(fmt.Sprintf("%s's video beyond %d decoded frames", id, n),
		fmt.Sprintf(`h.inbound(%s, "video").then(s => s !== null && s.frames > %d)`, js(id), n))
}

// TestPublishAndReceive: two pages publish their fake camera and
// microphone through the router and decode each other's.
func TestPublishAndReceive(t *testing.T) {
	e := newEnv(t)
	hana, alice := e.harness("hana"), e.harness("alice")
	e.join(hana, "hana", "host", true, true)
	e.join(alice, "alice", "attendee", true, true)
	for _, c := range []struct {
		viewer *page
		of     string
	}{{hana, "alice"}, {alice, "hana"}} {
		for _, kind := range []string{"audio", "video"} {
			waitPackets(c.viewer, c.of, kind, 10)
		}
		waitFrames(c.viewer, c.of, 5)
	}
}
