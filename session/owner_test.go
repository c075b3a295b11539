package session

import (
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/reducer"
)

// TestOwnerCarriesOutInOrder: the owner carries out a plan's actions in the
// plan's order, none ahead of its turn (the machine's tests check the order
// of the plans; this, that the loop keeps it). The answers go on
// unbuffered channels here, so the owner waits at each until the test
// takes it: while it waits at the second, everything before it in the plan
// is done. A loop that answered ahead of its turn would wait there with the
// state not installed or the events not published.
func TestOwnerCarriesOutInOrder(t *testing.T) {
	s, err := Open(testwait.Context(t), "s", NewMemStore(), WithPresets(testPresets))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(testwait.Context(t))
	sub, err := s.Subscribe(testwait.Context(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	start := core.NewState("s", testPresets)
	evs, err := reducer.Decide(start, hostJoin("c1"))
	if err != nil {
		t.Fatal(err)
	}
	out := &outcome{id: "c1", events: evs, seq: 1}
	first := &request{cmd: hostJoin("c1"), reply: make(chan reply)}
	again := &request{cmd: hostJoin("c1"), reply: make(chan reply)}
	plan := []action{
		{kind: actInstall, state: reducer.Fold(start, evs)},
		{kind: actCommit, out: out},
		{kind: actAnswer, req: first, rep: out.reply(false)},
		{kind: actAnswer, req: again, rep: out.reply(true)},
	}
	done := make(chan error, 1)
	go func() { done <- s.do(testwait.Context(t), func(o *owner) { o.act(plan) }) }()
	testwait.Recv(t, first.reply, "the first answer")
	if st, _ := s.State(testwait.Context(t)); st.Seq() != 1 {
		t.Errorf("the first answer is out, and the state installed is at seq %d, want 1", st.Seq())
	}
	if n := sub.queued(); n != len(evs) {
		t.Errorf("the first answer is out, and the subscriber holds %d events, want %d", n, len(evs))
	}
	testwait.Recv(t, again.reply, "the second answer")
	if err := testwait.Recv(t, done, "the plan carried out"); err != nil {
		t.Fatal(err)
	}
}
