package sessionlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/internal/jsonscan"
)

// Format is the value of the "format" field in a session log header.
const Format = "gavel-log/2"

// ErrFormat is matched (errors.Is) by the error DecodeHeader returns for a
// header of another format than Format; the error names it.
var ErrFormat = errors.New("sessionlog: not a " + Format + " log")

// Header is the first line of a session log.
type Header struct {
	Session string
	Presets core.Presets
}

// AppendHeader appends h as a header line's JSON (no newline).
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, `{"format":`...)
	dst = events.AppendString(dst, Format)
	dst = append(dst, `,"session":`...)
	dst = events.AppendString(dst, h.Session)
	dst = append(dst, `,"presets":`...)
	dst = events.AppendPresets(dst, h.Presets)
	return append(dst, '}')
}

// DecodeHeader decodes a header line. Its format must be Format: any other,
// gavel-log/1 among them, is an error that names it and matches ErrFormat.
func DecodeHeader(b []byte) (Header, error) {
	var format, session, presets []byte
	err := jsonscan.Object(b, func(name, value []byte) {
		switch string(name) {
		case "format":
			format = value
		case "session":
			session = value
		case "presets":
			presets = value
		}
	})
	if err != nil {
		return Header{}, fmt.Errorf("header: %w", err)
	}
	var f jsonscan.Fields
	name := f.Str(format, "format")
	h := Header{Session: f.Str(session, "session"), Presets: core.Presets{}}
	switch {
	case f.Err != nil:
		return Header{}, fmt.Errorf("header: %w", f.Err)
	case jsonscan.Absent(format):
		return Header{}, errors.New(`header: no "format" field: not a gavel log header`)
	case name == "gavel-log/1":
		return Header{}, fmt.Errorf("header: format %q: %w (it recorded a bulk command as one update per "+
			"participant; this version reads %s only)", name, ErrFormat, Format)
	case name != Format:
		return Header{}, fmt.Errorf("header: format %q: %w", name, ErrFormat)
	}
	if !jsonscan.Absent(presets) {
		if h.Presets, err = events.DecodePresets(presets); err != nil {
			return Header{}, fmt.Errorf("header: %w", err)
		}
	}
	return h, nil
}

// Position is where a record sits in a session's log. Positions are chosen
// by what keeps the log (a session.Store) and increase strictly with every
// record of a session; 0 is the position of an empty log (before the first
// record). Nothing else may be assumed: the memory and file stores count
// records (1, 2, 3 …), a JetStream store uses the stream sequence of the
// record's message.
//
// A position is not an event seq: a command that changes nothing, or that
// was rejected, still takes a position, so that the idempotency window
// finds it after a restart.
type Position uint64

// Record is a command record: one command a session's runtime decided, the
// time its clock gave it, and its outcome, the events it produced (maybe
// none) or the error that rejected it. It is what a store keeps, one a
// line (AppendRecord, DecodeRecord).
type Record struct {
	// Pos is the record's position, set by the store that yields it;
	// zero elsewhere, and ignored by AppendRecord and a store's Append.
	Pos Position
	// At is the record's time (UTC); zero when the log does not say.
	At time.Time
	// Command is the command, well formed (it passed check 1).
	Command core.Command
	// Events are the command's events, numbered with consecutive seqs that
	// continue the session's; empty when it changed nothing or was
	// rejected.
	Events []events.Event
	// Err is the rejection (checks 2 to 6), or nil when it was applied.
	Err *core.Error
}

// LastSeq returns the seq of the record's last event, or before when it has
// none: the session's seq after the record, given its seq before.
func (r Record) LastSeq(before uint64) uint64 {
	if n := len(r.Events); n > 0 {
		return r.Events[n-1].Sequence()
	}
	return before
}

// AppendRecord appends r as a command record line's JSON (no newline):
// {"at":…,"cmd":…,"events":[…]}, or {"at":…,"cmd":…,"error":{…}} for a
// rejection. "at" is omitted when r.At is zero.
func AppendRecord(dst []byte, r Record) []byte {
	var at string
	if !r.At.IsZero() {
		at = r.At.UTC().Format(time.RFC3339Nano)
	}
	var err error
	if r.Err != nil {
		err = r.Err
	}
	dst = appendRecordStart(dst, at)
	dst = events.AppendCommand(dst, r.Command)
	return appendOutcome(dst, r.Events, err)
}

// DecodeRecord decodes a line AppendRecord wrote (Pos is left zero): a
// command record with a well-formed command and a recorded outcome.
func DecodeRecord(b []byte) (Record, error) {
	e, err := DecodeEntry(b)
	if err != nil {
		return Record{}, err
	}
	return e.Record()
}

// appendCommandRecord appends a command record line's JSON: rawCmd as
// given (one JSON object), then evs, or err when it is not nil; at is
// omitted when empty.
func appendCommandRecord(dst []byte, at string, rawCmd []byte, evs []events.Event, err error) []byte {
	dst = appendRecordStart(dst, at)
	dst = append(dst, rawCmd...)
	return appendOutcome(dst, evs, err)
}

// appendRecordStart appends a command record's JSON up to its command.
func appendRecordStart(dst []byte, at string) []byte {
	dst = append(dst, '{')
	if at != "" {
		dst = append(dst, `"at":`...)
		dst = events.AppendString(dst, at)
		dst = append(dst, ',')
	}
	return append(dst, `"cmd":`...)
}

// appendOutcome appends a command record's JSON after its command.
func appendOutcome(dst []byte, evs []events.Event, err error) []byte {
	if err != nil {
		dst = append(dst, `,"error":`...)
		dst = events.AppendError(dst, err)
	} else {
		dst = append(dst, `,"events":`...)
		dst = events.AppendEvents(dst, evs)
	}
	return append(dst, '}')
}

// AppendCheckpoint appends a checkpoint line's JSON (no newline): {"state":…}.
func AppendCheckpoint(dst []byte, snap core.Snapshot) []byte {
	dst = append(dst, `{"state":`...)
	dst = events.AppendSnapshot(dst, snap)
	return append(dst, '}')
}

// Entry is one line of a session log after the header, as written: a
// command record (HasCommand), a checkpoint (State non-nil), or both on one
// line (the command comes first). Logs a runtime writes hold command records
// only; scripts and tests add checkpoints, and may leave the outcome out.
//
// A command record keeps its command's raw JSON, so tools can echo it as
// written. Command is what could be read of it; CommandErr, when set, is the
// invalid_command error it decodes to, which is then its outcome.
//
// Recorded reports whether the line said what the command produced
// ("events" or "error"); a record that did not only asks for the command to
// be run. The recorded outcome is decoded on demand by Outcome, so a tool
// that only re-runs commands never pays for it.
type Entry struct {
	At         string // as written; empty when absent
	HasCommand bool
	RawCommand json.RawMessage
	Command    core.Command
	CommandErr error
	Recorded   bool
	RawEvents  json.RawMessage
	RawError   json.RawMessage
	State      *core.Snapshot
}

type wireEntry struct {
	At, Cmd, Events, Error, State []byte
}

func (w *wireEntry) set(name, value []byte) {
	switch string(name) {
	case "at":
		w.At = value
	case "cmd":
		w.Cmd = value
	case "events":
		w.Events = value
	case "error":
		w.Error = value
	case "state":
		w.State = value
	}
}

// DecodeEntry decodes one line after the header. It fails only where the
// SPEC says a log is invalid: the line is not an object (an object in it
// names a member twice), "at" is not a string, "cmd" or "state" is not an
// object, or neither is there. A malformed command is a valid entry whose
// outcome is invalid_command (CommandErr). The entry does not share memory
// with b, so a reader may reuse b for the next line.
func DecodeEntry(b []byte) (Entry, error) {
	var w wireEntry
	if err := jsonscan.Object(b, w.set); err != nil {
		return Entry{}, err
	}
	var f jsonscan.Fields
	e := Entry{At: f.Str(w.At, "at")}
	if f.Err != nil {
		return Entry{}, f.Err
	}
	if !jsonscan.Absent(w.Cmd) {
		if w.Cmd[0] != '{' {
			f.Fail("cmd", "an object", w.Cmd)
			return Entry{}, f.Err
		}
		e.HasCommand = true
		e.Command, e.CommandErr = events.DecodeCommand(w.Cmd)
		e.Recorded = !jsonscan.Absent(w.Events) || !jsonscan.Absent(w.Error)
		// The raw fields alias b: copy them, in one allocation.
		raw := make([]byte, 0, len(w.Cmd)+len(w.Events)+len(w.Error))
		raw = append(raw, w.Cmd...)
		raw = append(raw, w.Events...)
		raw = append(raw, w.Error...)
		e.RawCommand = raw[:len(w.Cmd):len(w.Cmd)]
		if len(w.Events) > 0 {
			e.RawEvents = raw[len(w.Cmd) : len(w.Cmd)+len(w.Events) : len(w.Cmd)+len(w.Events)]
		}
		if len(w.Error) > 0 {
			e.RawError = raw[len(w.Cmd)+len(w.Events):]
		}
	}
	if !jsonscan.Absent(w.State) {
		snap, err := events.DecodeSnapshot(w.State)
		if err != nil {
			return Entry{}, fmt.Errorf(`"state": %w`, err)
		}
		e.State = &snap
	}
	if !e.HasCommand && e.State == nil {
		return Entry{}, errors.New(`the record has neither "cmd" nor "state"`)
	}
	return e, nil
}

// Outcome decodes what a command record says its command produced: its
// events (empty when the record said "events": []), or its error.
func (e Entry) Outcome() ([]events.Event, *core.Error, error) {
	var evs []events.Event
	var cerr *core.Error
	var err error
	if !jsonscan.Absent(e.RawEvents) {
		if evs, err = events.DecodeEvents(e.RawEvents); err != nil {
			return nil, nil, err
		}
	}
	if !jsonscan.Absent(e.RawError) {
		if cerr, err = events.DecodeError(e.RawError); err != nil {
			return nil, nil, err
		}
	}
	return evs, cerr, nil
}

// Record returns the entry as the Record a store keeps. The entry must be a
// command record with a well-formed command and a recorded outcome; a
// checkpoint is an error.
func (e Entry) Record() (Record, error) {
	if !e.HasCommand {
		return Record{}, errors.New("sessionlog: not a command record")
	}
	if e.CommandErr != nil {
		return Record{}, fmt.Errorf("sessionlog: record command: %w", e.CommandErr)
	}
	if !e.Recorded {
		return Record{}, errors.New("sessionlog: record says nothing of its outcome")
	}
	evs, cerr, err := e.Outcome()
	if err != nil {
		return Record{}, fmt.Errorf("sessionlog: record outcome: %w", err)
	}
	if len(evs) == 0 {
		evs = nil
	}
	r := Record{Command: e.Command, Events: evs, Err: cerr}
	if e.At != "" {
		if r.At, err = time.Parse(time.RFC3339Nano, e.At); err != nil {
			return Record{}, fmt.Errorf("sessionlog: record time: %w", err)
		}
	}
	return r, nil
}
