package web_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDroppedSocketResumes: vic's socket drops and stays down while a host
// acts; vic then reconnects, resuming from its last seq. Vic gets exactly
// the notifications a page that stayed connected got (none missed, none
// twice), and its command sent while it was down is applied once.
func TestDroppedSocketResumes(t *testing.T) {
	e := newEnv(t)
	ids := []string{"hana", "alice", "vic", "dan"}
	pages := map[string]*page{}
	for i, id := range ids {
		pages[id] = e.harness(id)
		preset := "attendee"
		if i == 0 {
			preset = "host"
		}
		// Control-only clients: this is about the events.
		got := eval[string](pages[id], `h.start(`+js(e.token(id, preset))+`, {audio: true, media: false})`)
		if got != id {
			t.Fatalf("joined as %q", got)
		}
	}
	hana, alice, vic := pages["hana"], pages["alice"], pages["vic"]
	vic.wait("everyone joined", `h.meeting.participants.joined.size === 3`)
	alice.wait("everyone joined", `h.meeting.participants.joined.size === 3`)
	aliceFrom, vicFrom := alice.count(), vic.count()

	vic.run(`h.block(true); h.drop()`)
	vic.wait("reconnecting", `h.connection.some(u => u.state === "reconnecting")`)
	vic.run(`void (window.pending = h.act(m => m.self.disableAudio()))`)
	for _, call := range []string{
		`m => m.participants.joined.get("dan").disableAudio()`,
		`m => m.participants.joined.get("dan").pin()`,
		`m => m.participants.joined.get("alice").pin()`,
		`m => m.participants.joined.get("alice").unpin()`,
		`m => m.self.disableAudio()`,
		`m => m.participants.joined.get("dan").disableVideo()`,
	} {
		mustAct(hana, call)
	}
	if eval[bool](vic, `h.connection.some(u => u.reconnected)`) {
		t.Fatal("vic reconnected while blocked")
	}
	vic.run(`h.block(false)`)
	vic.wait("reconnected", `h.connection.some(u => u.state === "connected" && u.reconnected)`)
	if r := eval[result](vic, `pending`); !r.OK {
		t.Fatalf("vic's command sent while down: %+v", r)
	}
	if !eval[bool](vic, `h.connection.find(u => u.reconnected).resumed`) {
		t.Error("vic was sent a fresh snapshot, not the missed events")
	}
	seq := eval[float64](hana, `h.meeting.meta.seq`)
	for _, p := range []*page{vic, alice} {
		p.wait("the host's seq", fmt.Sprintf(`h.meeting.meta.seq === %v`, seq))
	}

	// About hana and dan, vic and alice see the same.
	others := func(ns []note) []note {
		var out []note
		for _, n := range ns {
			if n.ID == "hana" || n.ID == "dan" {
				out = append(out, n)
			}
		}
		return out
	}
	want, got := others(alice.notes(aliceFrom)), others(vic.notes(vicFrom))
	if len(want) != 6 {
		t.Errorf("alice got %d notifications about hana and dan, want 6: %v", len(want), want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("vic's notifications after the drop, against alice's (-alice +vic):\n%s", diff)
	}
	// Vic's own command: one audioUpdate on self, also at alice.
	mine := func(p *page, from int, on string) []note {
		var out []note
		for _, n := range p.notes(from) {
			if n.ID == "vic" {
				n.On = on
				out = append(out, n)
			}
		}
		return out
	}
	vicSelf := mine(vic, vicFrom, "")
	if len(vicSelf) != 1 || vicSelf[0].Event != "audioUpdate" || vicSelf[0].Extra != "false" || vicSelf[0].By != "vic" {
		t.Errorf("vic's notifications about itself: %v, want one audioUpdate false by vic", vicSelf)
	}
	if diff := cmp.Diff(mine(alice, aliceFrom, ""), vicSelf); diff != "" {
		t.Errorf("vic's audioUpdate (-alice +vic):\n%s", diff)
	}
	// No seq notified twice for the same object and event.
	seen := map[note]bool{}
	for _, n := range vic.notes(0) {
		k := note{On: n.On, Event: n.Event, ID: n.ID, Seq: n.Seq}
		if seen[k] {
			t.Errorf("vic notified twice: %v seq %d", n, n.Seq)
		}
		seen[k] = true
	}
}
