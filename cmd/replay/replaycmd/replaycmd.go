// Package replaycmd is the replay command: it runs every record of a session
// log through the reducer and prints a timeline, verifies what the log says
// was produced (-verify), prints the log as the reducer produces it now
// (-json), or stops at a line and prints the state there (-until). Command
// replay is a one-line main around Run; the logic lives here so that tests
// and fuzz targets anywhere in the module can run it in process.
//
// Run reads the log as a stream (package sessionlog) and holds only the
// session state, so its memory does not grow with the length of the log.
//
// Package replaycmd imports core, events, reducer, sessionlog and go-cmp.
package replaycmd

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// Exit statuses of Run.
const (
	ExitOK         = 0 // all went well
	ExitDivergence = 1 // -verify found a record the reducer disagrees with
	ExitInvalid    = 2 // the input is not a valid log, or the command line is wrong
)

const usageLine = "usage: replay [-verify | -json] [-until N] FILE"

const usageText = usageLine + `

Runs every record of a gavel-log/2 session log through the reducer and prints
a timeline: one line per command with its outcome. FILE - reads standard input.

Exit status: 0 ok, 1 divergence (-verify), 2 invalid log or usage.

Flags:
`

type mode int

const (
	modeTimeline mode = iota
	modeVerify
	modeJSON
)

// Run runs the replay command with args (without the program name) and
// returns its exit status. stdin is read for FILE "-"; nil reads as empty.
// Run never panics.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		warn(fs.Output(), "%s", usageText)
		fs.PrintDefaults()
	}
	verify := fs.Bool("verify", false, "compare every recorded outcome and checkpoint with the reducer's; stop at the first divergence")
	jsonOut := fs.Bool("json", false, "print the log as the reducer produces it now, in gavel-log/2")
	until := fs.Int("until", 0, "stop after the record on line `N` and print the state there")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitInvalid
	}
	p := &replayer{until: *until}
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

	in, name := stdin, fs.Arg(0)
	if name == "-" {
		name = "stdin"
		if in == nil {
			in = strings.NewReader("")
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			warn(stderr, "replay: %v\n", err)
			return ExitInvalid
		}
		defer func() { _ = f.Close() }() // read only: nothing to lose
		in = f
	}

	err := p.run(in, stdout)
	var d *divergence
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &d):
		if err := d.report(stdout, name); err != nil {
			warn(stderr, "replay: %s: divergence at line %d; writing its report: %v\n", name, d.line, err)
		}
		return ExitDivergence
	}
	warn(stderr, "replay: %s: %v\n", name, err)
	return ExitInvalid
}

func usageError(stderr io.Writer, format string, args ...any) int {
	warn(stderr, "replay: %s\n%s\n", fmt.Sprintf(format, args...), usageLine)
	return ExitInvalid
}

// warn writes to stderr. A failed write there has nowhere left to be told;
// the exit status still says what happened.
func warn(stderr io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(stderr, format, args...)
}

// printf writes to the timeline's (and -verify's) buffered output. A
// bufio.Writer keeps its first write error and returns it from every later
// call, so run's Flush reports it and the exit status is not 0.
func (p *replayer) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(p.out, format, args...)
}

// replayer runs one log. Exactly one of its outputs is in use: out for the
// timeline and -verify, log for -json.
type replayer struct {
	mode  mode
	until int // 0: to the end

	r     *sessionlog.Reader
	out   *bufio.Writer
	log   *sessionlog.Writer
	state core.Builder // the session, built record after record
	line  int          // the line of the last record applied, or of the header

	commands, checkpoints int
	cmp                   comparer
}

// run replays the log from in, writing to stdout. It returns a
// *divergence, or an error saying why the log is invalid or the output
// failed. All output is flushed when it returns.
func (p *replayer) run(in io.Reader, stdout io.Writer) error {
	r, err := sessionlog.NewReader(in)
	if err != nil {
		return err
	}
	p.r, p.line = r, r.Line()
	h := r.Header()
	p.state = core.NewBuilder(core.NewState(h.Session, h.Presets))
	if p.mode == modeJSON {
		if p.log, err = sessionlog.NewWriter(stdout, h); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	} else {
		p.out = bufio.NewWriterSize(stdout, 64<<10)
	}
	if p.mode == modeTimeline {
		p.printHeader(h)
	}
	if p.until == 0 || p.line < p.until {
		err = p.records()
	}
	if err == nil {
		err = p.finish()
	}
	if ferr := p.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	return err
}

func (p *replayer) flush() error {
	if p.log != nil {
		return p.log.Flush()
	}
	return p.out.Flush()
}

// records applies every record up to the end, or past the -until line.
func (p *replayer) records() error {
	for {
		rec, err := p.r.Next()
		if err == io.EOF || (p.until > 0 && p.r.Line() > p.until) {
			return nil
		}
		if err != nil {
			return err
		}
		p.line = p.r.Line()
		if rec.HasCommand {
			if err := p.command(rec); err != nil {
				return err
			}
		}
		if rec.State != nil {
			if err := p.checkpoint(*rec.State); err != nil {
				return err
			}
		}
		if p.line == p.until {
			return nil
		}
	}
}

// command applies a command record. A command that did not decode is
// rejected with its decode error (invalid_command), without the reducer.
func (p *replayer) command(rec events.Record) error {
	p.commands++
	var evs []events.Event
	before := p.state.Current().Seq()
	err := rec.CommandErr
	if err == nil {
		if evs, err = reducer.Decide(p.state.Current(), rec.Command); err == nil {
			reducer.FoldInto(&p.state, evs)
		}
	}
	switch p.mode {
	case modeTimeline:
		p.printCommand(rec, before, evs, err)
	case modeVerify:
		return p.verifyCommand(rec, before, evs, err)
	case modeJSON:
		if werr := p.log.WriteRawCommand(rec.At, rec.RawCommand, evs, err); werr != nil {
			return &sessionlog.LineError{Line: p.line, Err: werr}
		}
	}
	return nil
}

// checkpoint handles a recorded checkpoint, after the line's command if any.
func (p *replayer) checkpoint(want core.Snapshot) error {
	p.checkpoints++
	switch p.mode {
	case modeTimeline:
		p.printCheckpoint(want)
	case modeVerify:
		return p.verifyCheckpoint(want)
	case modeJSON:
		if err := p.log.WriteCheckpoint(p.state.Current().Snapshot()); err != nil {
			return &sessionlog.LineError{Line: p.line, Err: err}
		}
	}
	return nil
}

// finish prints what comes after the last record: the state for -until, the
// verdict for -verify.
func (p *replayer) finish() error {
	if p.mode == modeVerify {
		p.printf("ok: %s and %s up to line %d agree with the reducer (seq %d)\n",
			count(p.commands, "command"), count(p.checkpoints, "checkpoint"), p.line, p.state.Current().Seq())
	}
	switch {
	case p.until == 0:
	case p.mode == modeJSON:
		if err := p.log.WriteCheckpoint(p.state.Current().Snapshot()); err != nil {
			return &sessionlog.LineError{Line: p.line, Err: err}
		}
	default:
		p.printState()
	}
	return nil
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
