// Command nats serves gavel sessions on an embedded NATS server: one process
// with JetStream, its data in a directory, listening on 127.0.0.1. It plays
// a short classroom through the command service, prints each reply and the
// session's events as a subscriber sees them, and keeps serving until
// interrupted, so that other processes on this machine can send commands:
//
//	go run ./examples/nats -data /tmp/gavel-demo
//	nats req -s nats://127.0.0.1:4222 gavel.cmd.room-1 \
//	  '{"id":"z1","type":"join","actor":"zoe","name":"Zoe","preset":"student"}'
//
// Run it again on the same directory: the session is still there, and the
// classroom's commands are answered as duplicates, not applied twice.
//
// Flags:
//
//	-data DIR      JetStream data directory (default gavel-data)
//	-port N        loopback port of the embedded server (default 4222; -1: any free one)
//	-session ID    session to play the classroom in (default room-1)
//	-once          exit after the classroom instead of serving
//
// The sessions it creates have two presets: teacher (disable anyone's
// audio or video, pin, kick) and student (none). A join must name one of
// them: "preset":"host", say, is refused with unknown_preset (1212).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/session"
	gavelnats "github.com/gavelrtc/gavel/transport/nats"
	"github.com/gavelrtc/gavel/transport/nats/natsserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "nats:", err)
		os.Exit(1)
	}
}

var presets = core.Presets{
	"teacher": {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"student": {},
}

// classroom is what the example plays.
var classroom = []core.Command{
	{ID: "demo-1", Type: core.Join, Actor: "rivera", Name: "Ms. Rivera", Preset: "teacher", Audio: true, Video: true},
	{ID: "demo-2", Type: core.Join, Actor: "ben", Name: "Ben", Preset: "student", Audio: true},
	{ID: "demo-3", Type: core.DisableAudio, Actor: "rivera", Target: "ben"},
	{ID: "demo-4", Type: core.Kick, Actor: "ben", Target: "rivera"},
	{ID: "demo-5", Type: core.Pin, Actor: "rivera", Target: "rivera"},
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	fs.SetOutput(out)
	data := fs.String("data", "gavel-data", "JetStream data directory")
	port := fs.Int("port", 4222, "loopback port of the embedded server (-1: any free one)")
	id := fs.String("session", "room-1", "session to play the classroom in")
	once := fs.Bool("once", false, "exit after the classroom instead of serving until interrupted")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: nats [-data DIR] [-port N] [-session ID] [-once]

Serves gavel sessions on an embedded NATS server and plays a classroom in one.
Sessions have the presets teacher (every host control) and student (none).

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := natsserver.Start(ctx, natsserver.WithDataDir(*data), natsserver.WithPort(*port))
	if err != nil {
		return err
	}
	n, err := gavelnats.Start(ctx, gavelnats.WithEmbeddedServer(srv), // n.Close shuts srv down
		gavelnats.WithSessionOptions(session.WithPresets(presets)))
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		n.Close(cctx)
	}()
	token, err := gavelnats.SessionToken(*id)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "gavel on %s, data in %s; commands on gavel.cmd.%s\n", n.URL(), *data, token)

	// A subscriber from the start of the session (of this run's, if the
	// session was there before).
	st, err := n.Manager().Session(ctx, *id)
	if err != nil {
		return err
	}
	state, err := st.State(ctx)
	if err != nil {
		return err
	}
	sub, err := n.Client().Subscribe(ctx, *id, state.Seq())
	if err != nil {
		return err
	}
	defer sub.Close()

	for _, cmd := range classroom {
		res, err := n.Client().Submit(ctx, *id, cmd)
		var cerr *core.Error
		switch {
		case errors.As(err, &cerr):
			fmt.Fprintf(out, "%s %s by %s: refused, %d %s\n", cmd.ID, cmd.Type, cmd.Actor, cerr.Code, cerr.Name())
		case err != nil:
			return err
		default:
			fmt.Fprintf(out, "%s %s by %s: seq %d, %d event(s), duplicate %v\n", cmd.ID, cmd.Type, cmd.Actor, res.Seq, len(res.Events), res.Duplicate)
		}
	}
	if *once {
		// Print what the subscriber saw of this run, and stop.
		end, err := st.State(ctx)
		if err != nil {
			return err
		}
		for sub.Seq() < end.Seq() {
			if err := printNext(ctx, sub, out); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintln(out, "serving; interrupt to stop")
	for {
		if err := printNext(ctx, sub, out); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// printNext prints the subscription's next event.
func printNext(ctx context.Context, sub *gavelnats.Subscription, out io.Writer) error {
	e, err := sub.Next(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  event %s\n", events.AppendEvent(nil, e))
	return nil
}
