package session_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/session"
)

func ExampleManager() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // every call that waits takes ctx
	defer cancel()
	// A store in memory; a service keeps its sessions in package filestore's
	// or in JetStream (package transport/nats).
	m, err := session.NewManager(session.NewMemStore(), session.WithPresets(core.Presets{
		"host":     {DisableParticipantAudio: true, KickParticipant: true},
		"attendee": {},
	}))
	if err != nil {
		panic(err)
	}
	defer m.Close(ctx)

	for _, cmd := range []core.Command{
		{ID: "1", Type: core.Join, Actor: "alice", Name: "Alice", Preset: "host", Audio: true},
		{ID: "2", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee", Audio: true},
	} {
		if _, err := m.Submit(ctx, "room-1", cmd); err != nil {
			panic(err)
		}
	}

	// A transport's welcome: the state, then every event after it.
	state, sub, err := m.Watch(ctx, "room-1")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	fmt.Println("welcome at seq", state.Seq(), "with", state.Len(), "participants")

	res, err := m.Submit(ctx, "room-1", core.Command{ID: "3", Type: core.DisableAudio, Actor: "alice", Target: "bob"})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(res.Events), "event, seq", res.Seq)
	ev, err := sub.Next(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(ev.Type(), ev.Sequence())

	_, err = m.Submit(ctx, "room-1", core.Command{ID: "4", Type: core.Kick, Actor: "bob", Target: "alice"})
	code, _ := core.CodeOf(err)
	fmt.Println("rejected:", code)

	// Output:
	// welcome at seq 2 with 2 participants
	// 1 event, seq 3
	// audio_update 3
	// rejected: 1201
}
