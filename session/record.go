package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/gavelrtc/gavel/events"
)

// AppendRecord appends rec as a gavel-log/2 command record line (no newline):
// {"at":…,"cmd":…,"events":[…]}, or with "error" for a rejected record. This
// is the form the file store writes and a JetStream store may publish.
func AppendRecord(dst []byte, rec Record) []byte {
	var at string
	if !rec.At.IsZero() {
		at = rec.At.UTC().Format(time.RFC3339Nano)
	}
	raw := events.AppendCommand(nil, rec.Command)
	var err error
	if rec.Err != nil {
		err = rec.Err
	}
	return events.AppendCommandRecord(dst, at, raw, rec.Events, err)
}

// ParseRecord decodes a line AppendRecord wrote. Pos is left zero.
func ParseRecord(line []byte) (Record, error) {
	r, err := events.DecodeRecord(line)
	if err != nil {
		return Record{}, err
	}
	return FromLogRecord(r)
}

// FromLogRecord converts a decoded log line to a Record. The line must be a
// command record with a well-formed command and a recorded outcome; a
// checkpoint-only line is an error.
func FromLogRecord(r events.Record) (Record, error) {
	if !r.HasCommand {
		return Record{}, errors.New("session: not a command record")
	}
	if r.CommandErr != nil {
		return Record{}, fmt.Errorf("session: record command: %w", r.CommandErr)
	}
	if !r.Recorded {
		return Record{}, errors.New("session: record says nothing of its outcome")
	}
	evs, cerr, err := r.Outcome()
	if err != nil {
		return Record{}, fmt.Errorf("session: record outcome: %w", err)
	}
	if len(evs) == 0 {
		evs = nil
	}
	rec := Record{Command: r.Command, Events: evs, Err: cerr}
	if r.At != "" {
		if rec.At, err = time.Parse(time.RFC3339Nano, r.At); err != nil {
			return Record{}, fmt.Errorf("session: record time: %w", err)
		}
	}
	return rec, nil
}
