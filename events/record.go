package events

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gavelrtc/gavel/core"
)

// Format is the value of the "format" field in a session log header.
const Format = "gavel-log/2"

// ErrFormat is matched (errors.Is) by the error DecodeHeader returns for a
// header of another format than Format; the error names it.
var ErrFormat = errors.New("events: not a " + Format + " log")

// Header is the first line of a session log.
type Header struct {
	Session string
	Presets core.Presets
}

// AppendHeader appends h as a header line's JSON (no newline).
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, `{"format":`...)
	dst = AppendString(dst, Format)
	dst = appendField(dst, "session", h.Session)
	dst = append(dst, `,"presets":`...)
	dst = AppendPresets(dst, h.Presets)
	return append(dst, '}')
}

// DecodeHeader decodes a header line. Its format must be Format: any other,
// gavel-log/1 among them, is an error that names it and matches ErrFormat.
func DecodeHeader(b []byte) (Header, error) {
	if err := expectObject(b); err != nil {
		return Header{}, fmt.Errorf("header: %w", err)
	}
	var format, session, presets []byte
	err := scanObject(b, func(name, value []byte) {
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
	f := fields{}
	h := Header{Session: f.str(session, "session"), Presets: core.Presets{}}
	name := f.str(format, "format")
	switch {
	case f.err != nil:
		return Header{}, fmt.Errorf("header: %w", f.err)
	case isAbsent(format):
		return Header{}, errors.New(`header: no "format" field: not a gavel log header`)
	case name == "gavel-log/1":
		return Header{}, fmt.Errorf("header: format %q: %w (it recorded a bulk command as one update per "+
			"participant; this version reads %s only)", name, ErrFormat, Format)
	case name != Format:
		return Header{}, fmt.Errorf("header: format %q: %w", name, ErrFormat)
	}
	if !isAbsent(presets) {
		ps, err := DecodePresets(presets)
		if err != nil {
			return Header{}, fmt.Errorf("header: %w", err)
		}
		h.Presets = ps
	}
	return h, nil
}

// Record is one line of a session log after the header: a command record
// (HasCommand), a checkpoint (State non-nil), or both on one line (the
// command comes first).
//
// A command record keeps its command's raw JSON, so tools can echo it as
// written. Command is what could be read of it; CommandErr, when set, is the
// invalid_command error it decodes to, which is then its outcome.
//
// Recorded reports whether the line said what the command produced
// ("events" or "error"); a record that did not only asks for the command to
// be run. The recorded outcome is decoded on demand by Outcome, so a tool
// that only re-runs commands never pays for it.
type Record struct {
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

type wireRecord struct {
	At, Cmd, Events, Error, State []byte
}

func (w *wireRecord) set(name, value []byte) {
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

// DecodeRecord decodes one record line. It fails only where the SPEC says a
// log is invalid: the line is not an object (an object in it names a member
// twice), "cmd" or "state" is not an object, or neither is there. A malformed command is a valid record whose
// outcome is invalid_command (CommandErr). The record does not share memory
// with b, so a reader may reuse b for the next line.
func DecodeRecord(b []byte) (Record, error) {
	if err := expectObject(b); err != nil {
		return Record{}, err
	}
	var w wireRecord
	if err := scanObject(b, w.set); err != nil {
		return Record{}, err
	}
	var r Record
	if !isAbsent(w.At) {
		f := fields{}
		r.At = f.str(w.At, "at")
		if f.err != nil {
			return Record{}, f.err
		}
	}
	if !isAbsent(w.Cmd) {
		if err := expectObject(w.Cmd); err != nil {
			return Record{}, fmt.Errorf(`"cmd": %w`, err)
		}
		r.HasCommand = true
		r.Command, r.CommandErr = DecodeCommand(w.Cmd)
		r.Recorded = !isAbsent(w.Events) || !isAbsent(w.Error)
		// The raw fields alias b: copy them, in one allocation.
		raw := make([]byte, 0, len(w.Cmd)+len(w.Events)+len(w.Error))
		raw = append(raw, w.Cmd...)
		raw = append(raw, w.Events...)
		raw = append(raw, w.Error...)
		r.RawCommand = raw[:len(w.Cmd):len(w.Cmd)]
		if len(w.Events) > 0 {
			r.RawEvents = raw[len(w.Cmd) : len(w.Cmd)+len(w.Events) : len(w.Cmd)+len(w.Events)]
		}
		if len(w.Error) > 0 {
			r.RawError = raw[len(w.Cmd)+len(w.Events):]
		}
	}
	if !isAbsent(w.State) {
		snap, err := DecodeSnapshot(w.State)
		if err != nil {
			return Record{}, fmt.Errorf(`"state": %w`, err)
		}
		r.State = &snap
	}
	if !r.HasCommand && r.State == nil {
		return Record{}, errors.New(`the record has neither "cmd" nor "state"`)
	}
	return r, nil
}

// Outcome decodes what a command record says its command produced: its
// events (empty when the record said "events": []), or its error.
func (r Record) Outcome() ([]Event, *core.Error, error) {
	var evs []Event
	var cerr *core.Error
	var err error
	if !isAbsent(r.RawEvents) {
		if evs, err = DecodeEvents(r.RawEvents); err != nil {
			return nil, nil, err
		}
	}
	if !isAbsent(r.RawError) {
		if cerr, err = DecodeError(r.RawError); err != nil {
			return nil, nil, err
		}
	}
	return evs, cerr, nil
}

// AppendCommandRecord appends a command record line's JSON (no newline):
// {"at":…,"cmd":…,"events":[…]} or {"at":…,"cmd":…,"error":{…}}. rawCmd is
// written as given (it must be one valid JSON object); at is omitted when
// empty.
func AppendCommandRecord(dst []byte, at string, rawCmd []byte, evs []Event, err error) []byte {
	dst = append(dst, '{')
	if at != "" {
		dst = append(dst, `"at":`...)
		dst = AppendString(dst, at)
		dst = append(dst, ',')
	}
	dst = append(dst, `"cmd":`...)
	dst = append(dst, rawCmd...)
	if err != nil {
		dst = append(dst, `,"error":`...)
		dst = AppendError(dst, err)
	} else {
		dst = append(dst, `,"events":`...)
		dst = AppendEvents(dst, evs)
	}
	return append(dst, '}')
}

// AppendCheckpoint appends a checkpoint line's JSON (no newline): {"state":…}.
func AppendCheckpoint(dst []byte, snap core.Snapshot) []byte {
	dst = append(dst, `{"state":`...)
	dst = AppendSnapshot(dst, snap)
	return append(dst, '}')
}
