package wire

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestProtocolDoc checks every JSON example of docs/ws-protocol.md: a
// command frame decodes to a well-formed command; every other frame (the
// server's, media_connect, signal) decodes and encodes back to exactly its
// bytes.
func TestProtocolDoc(t *testing.T) {
	data, err := os.ReadFile("../../../docs/ws-protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	in, checked := false, 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "```"):
			in = !in && line == "```json"
			continue
		case !in || line == "":
			continue
		}
		checked++
		b := []byte(line)
		switch cf, err := DecodeClientFrame(b); {
		case err == nil && cf.Type == TypeCommand:
			if cf.Command.ID == "" {
				t.Errorf("line %d: client frame: %+v without an id", n, cf.Command)
			}
			continue
		case err == nil && cf.Type == TypeMediaConnect:
			if enc := AppendMediaConnect(nil); !bytes.Equal(enc, b) {
				t.Errorf("line %d: encodes back as\n%s", n, enc)
			}
			continue
		case strings.HasPrefix(line, `{"type":"command"`):
			t.Errorf("line %d: client frame: %v", n, err)
			continue
		}
		// A server frame, or a signal (both ways).
		f, err := DecodeFrame(b)
		if err != nil {
			t.Errorf("line %d: %v", n, err)
			continue
		}
		if enc := appendFrame(f); !bytes.Equal(enc, b) {
			t.Errorf("line %d: encodes back as\n%s", n, enc)
		}
	}
	if checked < 10 {
		t.Errorf("only %d examples found", checked)
	}
}

func appendFrame(f Frame) []byte {
	switch f.Type {
	case TypeWelcome:
		return AppendWelcome(nil, f.Welcome)
	case TypeEvent:
		return AppendEvent(nil, f.Event)
	case TypeResult:
		return AppendResult(nil, f.Result)
	case TypeGoodbye:
		return AppendGoodbye(nil, f.Reason)
	case TypeSignal:
		return AppendSignal(nil, f.Signal)
	case TypeMediaClosed:
		return AppendMediaClosed(nil, f.Media)
	}
	return nil
}
