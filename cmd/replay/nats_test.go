package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/internal/natscluster"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/transport/nats"
)

var hostPresets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"attendee": {},
}

// startNode starts an embedded server and a gavel node on it with opts,
// both stopped when the test ends, and returns the server's URL.
func startNode(t *testing.T, opts ...nats.NodeOption) (*nats.Node, string) {
	t.Helper()
	srv := natscluster.StartOne(t)
	n, err := nats.Start(testwait.Context(t), append([]nats.NodeOption{nats.WithURL(srv.ClientURL()),
		nats.WithSessionOptions(session.WithPresets(hostPresets))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	testwait.Cleanup(t, func(ctx context.Context) { _ = n.Close(ctx) })
	return n, srv.ClientURL()
}

// meeting submits a short meeting to session id through c: joins, a mute,
// a pin, and host actions an attendee is refused. It returns how many
// commands it submitted.
func meeting(t *testing.T, c *nats.Client, id string) int {
	t.Helper()
	cmds := []core.Command{
		{ID: "c1", Type: core.Join, Actor: "ann", Name: "Ann", Preset: "host", Audio: true, Video: true},
		{ID: "c2", Type: core.Join, Actor: "bob", Name: "Bob", Preset: "attendee", Audio: true},
		{ID: "c3", Type: core.Kick, Actor: "bob", Target: "ann"},
		{ID: "c4", Type: core.DisableAudio, Actor: "ann", Target: "bob"},
		{ID: "c5", Type: core.DisableAllVideo, Actor: "bob"},
		{ID: "c6", Type: core.Pin, Actor: "ann", Target: "bob"},
	}
	for _, cmd := range cmds {
		if _, err := c.Submit(testwait.Context(t), id, cmd); err != nil && !errors.Is(err, core.ErrPermissionDenied) {
			t.Fatalf("%s: %v", cmd.ID, err)
		}
	}
	return len(cmds)
}

// sessionURL is the nats:// address of session id on the server at server.
func sessionURL(server, id string) string {
	u, _ := url.Parse(server)
	return (&url.URL{Scheme: "nats", Host: u.Host, Path: "/" + id}).String()
}

func replayNATS(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(testwait.Context(t), args, nil, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// TestNATS reads a live session straight from JetStream: -verify accepts
// it, the timeline shows the rejected host actions (the audit), -json is
// the log, and a record a writer got wrong is found on its line.
func TestNATS(t *testing.T) {
	n, server := startNode(t)
	id := "room 1/ü" // a session id that is no plain word
	cmds := meeting(t, n.Client(), id)
	addr := sessionURL(server, id)

	got := replayNATS(t, "-verify", addr)
	if want := fmt.Sprintf("ok: %d commands and 0 checkpoints up to line %d agree with the reducer (seq 4)\n", cmds, cmds+1); got.code != 0 || got.stdout != want {
		t.Errorf("-verify: exit %d, stdout %q, stderr %q; want %q", got.code, got.stdout, got.stderr, want)
	}
	got = replayNATS(t, addr)
	for _, row := range []string{
		"    4  ", "c3                    kick               bob → ann                 error permission_denied (1201): ",
		"    6  ", "c5                    disable_all_video  bob                       error permission_denied (1201): ",
	} {
		if !strings.Contains(got.stdout, row) {
			t.Errorf("timeline:\n%s\nwant the refused host action %q", got.stdout, row)
		}
	}
	got = replayNATS(t, "-json", addr)
	if lines := strings.Count(got.stdout, "\n"); got.code != 0 || lines != cmds+1 || !strings.Contains(got.stdout, `"error":{"code":1201`) {
		t.Errorf("-json: exit %d, %d lines:\n%s", got.code, lines, got.stdout)
	}

	// A record that says other than the reducer does, published as a
	// writer would: -verify names its line.
	tok, _ := nats.SessionToken(id)
	bad := `{"cmd":{"id":"c7","type":"unpin","actor":"ann","target":"bob"},"events":[]}`
	js, err := jetstream.New(n.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(testwait.Context(t), nats.DefaultPrefix+".log."+tok, []byte(bad)); err != nil {
		t.Fatal(err)
	}
	got = replayNATS(t, "-verify", addr)
	if got.code != exitDivergence || !strings.HasPrefix(got.stdout, "replay: "+addr+": line 8: divergence") ||
		!strings.Contains(got.stdout, `"id":"c7"`) {
		t.Errorf("-verify of a wrong record: exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
	}
}

// TestNATSStreamAndPrefix: a deployment's own stream and prefix are given
// as flags.
func TestNATSStreamAndPrefix(t *testing.T) {
	n, server := startNode(t, nats.WithStream("MEETINGS"), nats.WithPrefix("acme.gavel"))
	cmds := meeting(t, n.Client(), "room-1")
	addr := sessionURL(server, "room-1")
	if got := replayNATS(t, "-verify", "-stream", "MEETINGS", "-prefix", "acme.gavel", addr); got.code != 0 ||
		!strings.HasPrefix(got.stdout, fmt.Sprintf("ok: %d commands", cmds)) {
		t.Errorf("-verify: exit %d, stdout %q, stderr %q", got.code, got.stdout, got.stderr)
	}
	// With the defaults, the stream is not there.
	if got := replayNATS(t, "-verify", addr); got.code != exitInvalid || !strings.Contains(got.stderr, "stream GAVEL") {
		t.Errorf("-verify without the flags: exit %d, stderr %q; want 2 naming the stream", got.code, got.stderr)
	}
}

// TestNATSErrors: what cannot be read is exit 2 with a message saying why.
func TestNATSErrors(t *testing.T) {
	_, server := startNode(t)
	u, _ := url.Parse(server)
	for _, tc := range []struct {
		name, arg, want string
	}{
		{"no such session", sessionURL(server, "nobody"), "not found"},
		{"no session in the URL", "nats://" + u.Host, "want nats://HOST:PORT/SESSION"},
		{"no server", "nats://127.0.0.1:1/room-1", "nats://127.0.0.1:1/room-1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := replayNATS(t, "-verify", tc.arg)
			if got.code != exitInvalid || !strings.Contains(got.stderr, tc.want) || got.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", got.code, got.stdout, got.stderr, tc.want)
			}
		})
	}
}
