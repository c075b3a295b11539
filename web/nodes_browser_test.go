package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/gavelserver"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
	"github.com/gavelrtc/gavel/transport/ws"
)

// TestMovesToAnotherNode: a page given two nodes' URLs (init's urls) is on
// node a when node a stops; it reconnects to node b and resumes there by
// seq: it gets what happened meanwhile through node b, once, and goes on.
// A page whose first URL is node a, gone, joins through node b.
func TestMovesToAnotherNode(t *testing.T) {
	startBrowser(t) // skips first, before NATS starts
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitLimit)
	defer cancel()
	ns, err := natsserver.Start(ctx, natsserver.WithDataDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the servers'
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	e := newEnvWith(t, gavelserver.Config{NATSURL: ns.ClientURL(), Node: "node-a"})
	b, err := gavelserver.Start(ctx, gavelserver.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), NATSURL: ns.ClientURL(),
		Node: "node-b", Secret: e.srv.Secret(), WSOptions: []ws.Option{ws.WithOriginPatterns("127.0.0.1:*")}},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.WithoutCancel(ctx)) })
	bURL := "ws" + b.URL()[len("http"):] + "gavel"

	vic := e.harness("vic")
	aURL := "ws" + e.http.URL[len("http"):] + "/gavel"
	if got := eval[string](vic, `h.start(`+js(e.token("vic", "attendee"))+`, {audio: true, media: false, url: `+js(aURL)+`, urls: [`+js(bURL)+`]})`); got != "vic" {
		t.Fatalf("joined as %q", got)
	}
	from := vic.count()
	// A host joins through node b, which vic's node does not hear of.
	if _, err := b.Manager().Submit(ctx, e.room, core.Command{ID: "h1", Type: core.Join, Actor: "hana", Name: "Hana", Preset: "host"}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	vic.wait("reconnected", `h.connection.some(u => u.state === "connected" && u.reconnected)`)
	if url := eval[string](vic, `h.connection.find(u => u.reconnected).url`); url != bURL {
		t.Errorf("vic reconnected to %s, want node b, %s", url, bURL)
	}
	if !eval[bool](vic, `h.connection.find(u => u.reconnected).resumed`) {
		t.Error("vic was sent a fresh snapshot, not the missed events")
	}
	r, err := b.Manager().Submit(ctx, e.room, core.Command{ID: "h2", Type: core.DisableAudio, Actor: "hana", Target: "vic"})
	if err != nil {
		t.Fatal(err)
	}
	vic.wait("the host's seq", fmt.Sprintf(`h.meeting.meta.seq === %d`, r.Seq))
	want := []note{
		{On: "joined", Event: "participantJoined", ID: "hana", Seq: r.Seq - 1},
		{On: "self", Event: "audioUpdate", ID: "vic", Extra: "false", By: "hana", Seq: r.Seq},
	}
	if d := cmp.Diff(want, vic.notes(from)); d != "" {
		t.Errorf("vic's notifications across the move (-want +got):\n%s", d)
	}
	// init skips a node that is gone.
	wen := e.harness("wen")
	if got := eval[string](wen, `h.start(`+js(e.token("wen", "attendee"))+`, {media: false, url: `+js(aURL)+`, urls: [`+js(bURL)+`]})`); got != "wen" {
		t.Fatalf("joined as %q", got) // node a is closed: only node b can have welcomed wen
	}
}
