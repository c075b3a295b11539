package docscheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/events"
	"github.com/gavelrtc/gavel/reducer"
	"github.com/gavelrtc/gavel/sessionlog"
)

const docsDir = "../../docs"

// owned are the documents in which every JSON block must name its kind.
var owned = []string{"behaviour.md", "errors.md", "events.md", "log-format.md"}

// block is one fenced code block of a document.
type block struct {
	file string
	line int // of the first line inside the fence
	lang string
	kind string
	body []string
}

func (b block) String() string { return fmt.Sprintf("%s:%d (%s %s)", b.file, b.line, b.lang, b.kind) }

// blocks returns the fenced blocks of a Markdown document.
func blocks(t *testing.T, path string) []block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.HasPrefix(strings.TrimSpace(line), "```")
		switch {
		case cur == nil && fence:
			info := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "```"))
			cur = &block{file: filepath.Base(path), line: n + 1}
			if len(info) > 0 {
				cur.lang = info[0]
			}
			if len(info) > 1 {
				cur.kind = info[1]
			}
		case cur != nil && fence:
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body = append(cur.body, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s: unclosed code block", cur)
	}
	return out
}

func TestExamples(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range owned {
		if !slices.Contains(paths, filepath.Join(docsDir, name)) {
			t.Errorf("docs/%s is missing", name)
		}
	}
	checked := map[string]int{}
	for _, path := range paths {
		strict := slices.Contains(owned, filepath.Base(path))
		for _, b := range blocks(t, path) {
			if b.lang != "json" && b.lang != "jsonl" {
				continue
			}
			if b.kind == "" {
				if strict {
					t.Errorf("%s: a JSON block without a kind", b)
				}
				continue
			}
			check, ok := checks[b.kind]
			if !ok {
				t.Errorf("%s: unknown kind %q", b, b.kind)
				continue
			}
			if err := check(b); err != nil {
				t.Errorf("%s: %v", b, err)
			}
			checked[b.kind]++
		}
	}
	t.Logf("examples checked, by kind: %v", checked)
	for kind := range checks {
		if checked[kind] == 0 {
			t.Errorf("no example of kind %q in docs/", kind)
		}
	}
}

// lines calls f for every non-blank line of b with its line number.
func lines(b block, f func(n int, line []byte) error) error {
	var errs []error
	for i, l := range b.body {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if err := f(b.line+i, []byte(l)); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", b.line+i, err))
		}
	}
	return errors.Join(errs...)
}

// recordLine is the line a sessionlog.Writer writes for a command record.
func recordLine(at string, rawCmd []byte, evs []events.Event, err error) []byte {
	var buf bytes.Buffer
	w := sessionlog.NewAppendWriter(&buf)
	if werr := w.WriteRawCommand(at, rawCmd, evs, err); werr != nil {
		return []byte(werr.Error())
	}
	_ = w.Flush() // a bytes.Buffer takes every write
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// same reports an error unless the encoder's output is the line as written.
func same(line, encoded []byte) error {
	var compact bytes.Buffer
	if err := json.Compact(&compact, line); err != nil {
		return err
	}
	if !bytes.Equal(compact.Bytes(), encoded) {
		return fmt.Errorf("the encoder writes\n\t%s\nnot\n\t%s", encoded, line)
	}
	return nil
}

// roundTrip checks that each line decodes and encodes back to itself.
func roundTrip[T any](decode func([]byte) (T, error), encode func([]byte, T) []byte) func(block) error {
	return func(b block) error {
		return lines(b, func(_ int, line []byte) error {
			v, err := decode(line)
			if err != nil {
				return err
			}
			return same(line, encode(nil, v))
		})
	}
}

var checks = map[string]func(block) error{
	"event":   roundTrip(events.DecodeEvent, events.AppendEvent),
	"state":   roundTrip(events.DecodeSnapshot, events.AppendSnapshot),
	"presets": roundTrip(events.DecodePresets, events.AppendPresets),
	"header":  roundTrip(sessionlog.DecodeHeader, sessionlog.AppendHeader),
	"error": roundTrip(events.DecodeError, func(dst []byte, e *core.Error) []byte {
		return events.AppendError(dst, e)
	}),
	"command": func(b block) error {
		return lines(b, func(_ int, line []byte) error {
			c, err := events.DecodeCommand(line)
			if err == nil {
				_, err = reducer.Decide(core.NewState("", nil), c)
			}
			if errors.Is(err, core.ErrInvalidCommand) {
				return fmt.Errorf("not well formed: %v", err)
			}
			return same(line, events.AppendCommand(nil, c))
		})
	},
	"invalid-command": func(b block) error {
		return lines(b, func(_ int, line []byte) error {
			c, err := events.DecodeCommand(line)
			if err == nil {
				_, err = reducer.Decide(core.NewState("", nil), c)
			}
			if !errors.Is(err, core.ErrInvalidCommand) {
				return fmt.Errorf("accepted as well formed (then: %v)", err)
			}
			return nil
		})
	},
	"record": func(b block) error {
		return lines(b, func(_ int, line []byte) error {
			r, err := sessionlog.DecodeEntry(line)
			if err != nil {
				return err
			}
			_, _, err = r.Outcome()
			return err
		})
	},
	"invalid-record": func(b block) error {
		return lines(b, func(_ int, line []byte) error {
			if _, err := sessionlog.DecodeEntry(line); err == nil {
				return errors.New("accepted")
			}
			return nil
		})
	},
	"script": func(b block) error { return replay(b, false) },
	"log":    func(b block) error { return replay(b, true) },
}

// replay runs a log's commands through the reducer. With recorded, every
// line must be what the reducer produces now, byte for byte.
func replay(b block, recorded bool) error {
	var s core.State
	header := true
	return lines(b, func(_ int, line []byte) error {
		if header {
			header = false
			h, err := sessionlog.DecodeHeader(line)
			if err != nil {
				return err
			}
			s = core.NewState(h.Session, h.Presets)
			return same(line, sessionlog.AppendHeader(nil, h))
		}
		r, err := sessionlog.DecodeEntry(line)
		if err != nil {
			return err
		}
		var want []byte
		if r.HasCommand {
			var evs []events.Event
			err := r.CommandErr
			if err == nil {
				s, evs, err = reducer.Apply(s, r.Command)
			}
			want = recordLine(r.At, r.RawCommand, evs, err)
		}
		if r.State != nil {
			if r.HasCommand {
				return errors.New("a command and a checkpoint on one line: write them apart")
			}
			want = sessionlog.AppendCheckpoint(nil, s.Snapshot())
		}
		if !recorded {
			if r.Recorded {
				return errors.New("a script line says what its command produced")
			}
			return nil
		}
		return same(line, want)
	})
}

// TestReplay runs the replay command on the logs of the documentation: every
// recorded log passes -verify, and a script followed by a log gives that log
// under -json, as the documents say.
func TestReplay(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	logs := 0
	for _, path := range paths {
		var prev block
		for _, b := range blocks(t, path) {
			if b.lang != "json" && b.lang != "jsonl" {
				continue
			}
			input := strings.Join(b.body, "\n") + "\n"
			switch {
			case b.kind == "log":
				logs++
				if _, err := sessionlog.Verify(strings.NewReader(input)); err != nil {
					t.Errorf("%s: replay -verify: %v", b, err)
				}
				if prev.kind == "script" {
					script := strings.Join(prev.body, "\n") + "\n"
					var out strings.Builder
					if err := sessionlog.RecordScript(strings.NewReader(script), &out); err != nil || out.String() != input {
						t.Errorf("%s: replay -json of the script before it: %v, and it records\n%s", b, err, out.String())
					}
				}
			}
			prev = b
		}
	}
	if logs == 0 {
		t.Error("no recorded log in docs/")
	}
}
