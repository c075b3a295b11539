package fuzz

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

// checkCommand checks what holds of any command DecodeCommand returns: it
// encodes to valid JSON, and, when it decoded without error, it decodes
// again to itself with the same bytes. Whatever it is, the reducer decides
// it without panicking and rejects it only with a *core.Error.
func checkCommand(t *testing.T, c core.Command, decodeErr error) {
	t.Helper()
	b := events.AppendCommand(nil, c)
	if !json.Valid(b) {
		t.Fatalf("AppendCommand(%+v) = %s: invalid JSON", c, b)
	}
	if decodeErr == nil {
		again, err := events.DecodeCommand(b)
		if err != nil {
			t.Fatalf("DecodeCommand(AppendCommand(%+v) = %s): %v", c, b, err)
		}
		if d := cmp.Diff(c, again); d != "" {
			t.Fatalf("round trip through %s (-first +second):\n%s", b, d)
		}
		if b2 := events.AppendCommand(nil, again); !bytes.Equal(b, b2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", b, b2)
		}
	}
	if _, err := reducer.Decide(fuzzSession, c); err != nil {
		if _, ok := core.CodeOf(err); !ok {
			t.Fatalf("Decide(%+v) = %v: not a *core.Error", c, err)
		}
	}
}

var presets = core.Presets{
	"host":     {DisableParticipantAudio: true, DisableParticipantVideo: true, PinParticipant: true, KickParticipant: true},
	"cohost":   {DisableParticipantAudio: true, PinParticipant: true},
	"stage":    {DisableParticipantVideo: true, KickParticipant: true},
	"attendee": {},
}

// fuzzSession is a small session for decoded commands to run against.
var fuzzSession = func() core.State {
	s := core.NewState("fuzz", presets)
	for _, c := range []core.Command{
		{ID: "j1", Type: core.Join, Actor: "ann", Preset: "host", Audio: true, Video: true},
		{ID: "j2", Type: core.Join, Actor: "bob", Preset: "attendee", Audio: true},
		{ID: "p", Type: core.Pin, Actor: "ann", Target: "bob"},
	} {
		var err error
		if s, _, err = reducer.Apply(s, c); err != nil {
			panic(err)
		}
	}
	return s
}()

// validUnicode reports whether every string of data, valid JSON, is valid
// Unicode: valid UTF-8, and no escaped surrogate without its pair.
func validUnicode(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	hex := func(b []byte) rune {
		r, err := strconv.ParseUint(string(b), 16, 16)
		if err != nil {
			return -1
		}
		return rune(r)
	}
	in := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			in = !in
		case in && c == '\\':
			i++
			if data[i] != 'u' {
				continue
			}
			r := hex(data[i+1 : i+5])
			i += 4
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return false
			case r >= 0xd800 && r <= 0xdbff:
				if i+6 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
					return false
				}
				if lo := hex(data[i+3 : i+7]); lo < 0xdc00 || lo > 0xdfff {
					return false
				}
				i += 6
			}
		}
	}
	return true
}

// canonical re-encodes valid JSON token by token with encoding/json: the
// same members in the same order, duplicates kept, strings unescaped and
// escaped again, numbers as written, no whitespace. A decoder must read it
// as it reads the original: this compares the events package's own JSON
// scanner with encoding/json's.
func canonical(t *testing.T, data []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type level struct {
		object bool
		n      int // values (and, in an object, names) so far
	}
	var stack []level
	var out []byte
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("json.Valid accepted %q but Token fails: %v", data, err)
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			out = append(out, byte(d))
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.object && top.n%2 == 1:
				out = append(out, ':')
			case top.n > 0:
				out = append(out, ',')
			}
			top.n++
		}
		switch tok := tok.(type) {
		case json.Delim:
			stack = append(stack, level{object: tok == '{'})
			out = append(out, byte(tok))
		case json.Number:
			out = append(out, tok...)
		default:
			b, err := json.Marshal(tok)
			if err != nil {
				t.Fatalf("json.Marshal(%v): %v", tok, err)
			}
			out = append(out, b...)
		}
	}
}

// sameAsEncodingJSON checks that decode accepts only valid JSON and reads
// valid JSON as it reads its canonical form. (Strings that are not valid
// Unicode have none: encoding/json turns them into valid ones, where a
// command refuses them.)
func sameAsEncodingJSON[V any](t *testing.T, data []byte, decode func([]byte) (V, error), opts ...cmp.Option) {
	t.Helper()
	v, err := decode(data)
	if !json.Valid(data) {
		if err == nil {
			t.Fatalf("accepted invalid JSON %q as %+v", data, v)
		}
		return
	}
	if !validUnicode(data) {
		return
	}
	c := canonical(t, data)
	v2, err2 := decode(c)
	if (err == nil) != (err2 == nil) {
		t.Fatalf("%q gives error %v; its canonical form %s gives %v", data, err, c, err2)
	}
	if d := cmp.Diff(v, v2, opts...); d != "" {
		t.Fatalf("%q and its canonical form %s decode differently (-original +canonical):\n%s", data, c, d)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := events.DecodeCommand(data)
		if err != nil {
			var cerr *core.Error
			if !errors.As(err, &cerr) || cerr.Code != core.CodeInvalidCommand || !errors.Is(err, core.ErrInvalidCommand) {
				t.Fatalf("DecodeCommand(%q) = %v: not invalid_command", data, err)
			}
		}
		checkCommand(t, c, err)
		sameAsEncodingJSON(t, data, events.DecodeCommand)
	})
}

// checkEvent checks that an event encodes to valid JSON that decodes to
// itself, with the same bytes again.
func checkEvent(t *testing.T, e events.Event) {
	t.Helper()
	b := events.AppendEvent(nil, e)
	if !json.Valid(b) {
		t.Fatalf("AppendEvent(%+v) = %s: invalid JSON", e, b)
	}
	again, err := events.DecodeEvent(b)
	if err != nil {
		t.Fatalf("DecodeEvent(AppendEvent(%+v) = %s): %v", e, b, err)
	}
	if d := cmp.Diff(e, again); d != "" {
		t.Fatalf("round trip through %s (-first +second):\n%s", b, d)
	}
	if b2 := events.AppendEvent(nil, again); !bytes.Equal(b, b2) {
		t.Fatalf("encoding is not stable:\n%s\n%s", b, b2)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsEncodingJSON(t, data, events.DecodeEvent)
		e, err := events.DecodeEvent(data)
		if err != nil {
			if e != nil {
				t.Fatalf("DecodeEvent(%q) = %+v with error %v", data, e, err)
			}
			return
		}
		checkEvent(t, e)
		// Evolve takes any decoded event without panicking.
		reducer.Evolve(fuzzSession, e)
	})
}

func FuzzDecodeRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		// The raw parts of a record are as written, so they differ in the
		// canonical form; what they decode to must not.
		sameAsEncodingJSON(t, data, decodeRecordOutcome,
			cmpopts.IgnoreFields(sessionlog.Entry{}, "RawCommand", "RawEvents", "RawError", "CommandErr"))
		r, err := sessionlog.DecodeEntry(data)
		if err != nil {
			return
		}
		if !r.HasCommand && r.State == nil {
			t.Fatalf("DecodeEntry(%q) has neither a command nor a state", data)
		}
		if r.HasCommand {
			if r.CommandErr != nil && !errors.Is(r.CommandErr, core.ErrInvalidCommand) {
				t.Fatalf("CommandErr = %v, want invalid_command", r.CommandErr)
			}
			checkCommand(t, r.Command, r.CommandErr)
			evs, rerr, err := r.Outcome()
			if err != nil {
				return
			}
			for _, e := range evs {
				checkEvent(t, e)
			}
			// Written again, the record reads back the same.
			var outcome error
			if rerr != nil {
				outcome = rerr
			}
			if rerr != nil && len(evs) > 0 {
				return // a record may say both; a writer says one
			}
			var buf bytes.Buffer
			w := sessionlog.NewAppendWriter(&buf)
			if err := w.WriteRawCommand(r.At, r.RawCommand, evs, outcome); err != nil {
				t.Fatalf("WriteRawCommand(%s): %v", r.RawCommand, err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			line := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			again, err := sessionlog.DecodeEntry(line)
			if err != nil {
				t.Fatalf("DecodeEntry(%s): %v", line, err)
			}
			evs2, rerr2, err := again.Outcome()
			if err != nil {
				t.Fatalf("Outcome of %s: %v", line, err)
			}
			type outcomeOf struct {
				At      string
				Command core.Command
				Events  []events.Event
				Error   *core.Error
			}
			if d := cmp.Diff(outcomeOf{r.At, r.Command, evs, rerr}, outcomeOf{again.At, again.Command, evs2, rerr2},
				cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("record rewritten as %s (-first +second):\n%s", line, d)
			}
			// What a store keeps of it reads back the same, in the
			// codec's own spelling.
			if rec, err := r.Record(); err == nil {
				b := sessionlog.AppendRecord(nil, rec)
				back, err := sessionlog.DecodeRecord(b)
				if err != nil {
					t.Fatalf("DecodeRecord(AppendRecord(%+v) = %s): %v", rec, b, err)
				}
				if b2 := sessionlog.AppendRecord(nil, back); !bytes.Equal(b, b2) {
					t.Fatalf("a store's record read back differs:\n%s\n%s", b, b2)
				}
			}
		}
		if r.State != nil {
			b := events.AppendSnapshot(nil, *r.State)
			snap, err := events.DecodeSnapshot(b)
			if err != nil {
				t.Fatalf("DecodeSnapshot(AppendSnapshot(%+v) = %s): %v", *r.State, b, err)
			}
			if d := cmp.Diff(*r.State, snap, cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("state round trip through %s (-first +second):\n%s", b, d)
			}
			// FromSnapshot either refuses the state or gives one that
			// encodes the same.
			if s, err := core.FromSnapshot(snap, presets); err == nil {
				if b2 := events.AppendState(nil, s); !bytes.Equal(b, b2) {
					t.Fatalf("FromSnapshot changed the state:\n%s\n%s", b, b2)
				}
			}
		}
	})
}

// recordOutcome is a record with what its raw parts decode to.
type recordOutcome struct {
	Record         sessionlog.Entry
	CommandErrCode core.Code
	Events         []events.Event
	Error          *core.Error
	OutcomeFails   bool
}

func decodeRecordOutcome(b []byte) (recordOutcome, error) {
	r, err := sessionlog.DecodeEntry(b)
	if err != nil {
		return recordOutcome{}, err
	}
	o := recordOutcome{Record: r}
	o.CommandErrCode, _ = core.CodeOf(r.CommandErr)
	var oerr error
	o.Events, o.Error, oerr = r.Outcome()
	o.OutcomeFails = oerr != nil
	return o, nil
}
