package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gavelrtc/gavel/sessionlog"
)

// Exit statuses of run.
const (
	exitOK         = 0 // all went well
	exitDivergence = 1 // -verify found a record the reducer disagrees with
	exitInvalid    = 2 // the input is not a valid log, or the command line is wrong
)

const usageLine = "usage: replay [-verify | -json] [-until N] [-stream NAME] [-prefix P] FILE | - | nats://HOST:PORT/SESSION"

const usageText = usageLine + `

Runs every record of a gavel-log/2 session log through the reducer and prints
a timeline: one line per command with its outcome, rejected host actions
included (who tried what, refused with which code).

The log is FILE, standard input for -, or a live session read from JetStream:
nats://127.0.0.1:4222/room-1 reads session room-1 from the server at that
address (user:password@ in the URL if it needs them), from the stream and
subjects gavel uses by default (-stream, -prefix otherwise). Its line N is the
session's record N-1; the header is line 1.

Exit status: 0 ok, 1 divergence (-verify), 2 invalid log or usage.

Flags:
`

type mode int

const (
	modeTimeline mode = iota
	modeVerify
	modeJSON
)

// run runs the replay command with args (without the program name) and
// returns its exit status. stdin is read for FILE "-"; nil reads as empty.
// ctx bounds reading a session from NATS. run never panics.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		warn(fs.Output(), "%s", usageText)
		fs.PrintDefaults()
	}
	verify := fs.Bool("verify", false, "compare every recorded outcome and checkpoint with the reducer's; stop at the first divergence")
	jsonOut := fs.Bool("json", false, "print the log as the reducer produces it now, in gavel-log/2")
	until := fs.Int("until", 0, "stop after the record on line `N` and print the state there")
	var src natsSource
	fs.StringVar(&src.stream, "stream", defaultStream, "the JetStream stream of a nats:// session")
	fs.StringVar(&src.prefix, "prefix", defaultPrefix, "the subject prefix of a nats:// session")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitInvalid
	}
	p := &printer{mode: modeTimeline}
	untilSet := false
	fs.Visit(func(f *flag.Flag) { untilSet = untilSet || f.Name == "until" })
	switch {
	case fs.NArg() != 1:
		return usageError(stderr, "want one FILE, got %d arguments", fs.NArg())
	case *verify && *jsonOut:
		return usageError(stderr, "-verify and -json do not go together")
	case untilSet && *until < 1:
		return usageError(stderr, "-until %d: want a line number, 1 or more", *until)
	case *verify:
		p.mode = modeVerify
	case *jsonOut:
		p.mode = modeJSON
	}

	in, name, err := open(ctx, fs.Arg(0), stdin, src)
	if err != nil {
		warn(stderr, "replay: %v\n", err)
		return exitInvalid
	}
	defer func() { _ = in.Close() }() // read only: nothing to lose

	err = p.run(in, *until, stdout)
	var d *sessionlog.Divergence
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &d):
		if err := report(stdout, name, d); err != nil {
			warn(stderr, "replay: %s: divergence at line %d; writing its report: %v\n", name, d.Line, err)
		}
		return exitDivergence
	}
	warn(stderr, "replay: %s: %v\n", name, err)
	return exitInvalid
}

// open opens the log named by arg: standard input, a nats:// session or a
// file. name is how messages call it.
func open(ctx context.Context, arg string, stdin io.Reader, src natsSource) (in io.ReadCloser, name string, err error) {
	switch {
	case arg == "-":
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		return io.NopCloser(stdin), "stdin", nil
	case strings.HasPrefix(arg, "nats://") || strings.HasPrefix(arg, "tls://"):
		return src.open(ctx, arg)
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, "", err
	}
	return f, arg, nil
}

func usageError(stderr io.Writer, format string, args ...any) int {
	warn(stderr, "replay: %s\n%s\n", fmt.Sprintf(format, args...), usageLine)
	return exitInvalid
}

// warn writes to stderr. A failed write there has nowhere left to be told;
// the exit status still says what happened.
func warn(stderr io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(stderr, format, args...)
}

// report writes a divergence as -verify reports it.
func report(w io.Writer, name string, d *sessionlog.Divergence) error {
	var b strings.Builder
	fmt.Fprintf(&b, "replay: %s: line %d: divergence: %s\n", name, d.Line, d.What)
	if d.Command != nil {
		fmt.Fprintf(&b, "command: %s\n", d.Command)
	}
	if d.Diff != "" {
		fmt.Fprintf(&b, "diff (-recorded +replayed):\n%s", d.Diff)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printer runs one log in one mode. Exactly one of its outputs is in use:
// out for the timeline and -verify, log for -json.
type printer struct {
	mode mode
	p    *sessionlog.Replayer
	out  *bufio.Writer
	log  *sessionlog.Writer
}

// printf writes to the timeline's (and -verify's) buffered output. A
// bufio.Writer keeps its first write error and returns it from every later
// call, so run's Flush reports it and the exit status is not 0.
func (p *printer) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(p.out, format, args...)
}

// run replays the log from in, up to line until (0: the end), writing to
// stdout. It returns a *sessionlog.Divergence, or an error saying why the
// log is invalid or the output failed. All output is flushed when it
// returns.
func (p *printer) run(in io.Reader, until int, stdout io.Writer) error {
	r, err := sessionlog.NewReplayer(in)
	if err != nil {
		return err
	}
	p.p = r
	r.StopAfter(until)
	if p.mode == modeJSON {
		if p.log, err = sessionlog.NewWriter(stdout, r.Header()); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	} else {
		p.out = bufio.NewWriterSize(stdout, 64<<10)
	}
	switch p.mode {
	case modeTimeline:
		err = p.timeline()
	case modeVerify:
		var sum sessionlog.Summary
		if sum, err = r.Verify(); err == nil {
			p.printf("ok: %s and %s up to line %d agree with the reducer (seq %d)\n",
				count(sum.Commands, "command"), count(sum.Checkpoints, "checkpoint"), sum.Line, sum.Seq)
		}
	case modeJSON:
		err = r.Rerecord(p.log)
	}
	if err == nil && until > 0 {
		err = p.finish()
	}
	if ferr := p.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	return err
}

func (p *printer) flush() error {
	if p.log != nil {
		return p.log.Flush()
	}
	return p.out.Flush()
}

// finish prints the state where -until stopped: as a checkpoint for -json.
func (p *printer) finish() error {
	if p.mode == modeJSON {
		if err := p.log.WriteCheckpoint(p.p.State().Snapshot()); err != nil {
			return &sessionlog.LineError{Line: p.p.Line(), Err: err}
		}
		return nil
	}
	p.printState()
	return nil
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
