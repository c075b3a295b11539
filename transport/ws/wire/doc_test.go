package wire

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestProtocolDoc checks every JSON example of docs/ws-protocol.md: a
// client frame decodes to a well-formed command, a server frame decodes and
// encodes back to exactly its bytes.
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
		if strings.HasPrefix(line, `{"type":"command"`) {
			if cmd, err := DecodeCommand(b); err != nil || cmd.ID == "" {
				t.Errorf("line %d: client frame: %+v, %v", n, cmd, err)
			}
			continue
		}
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
	}
	return nil
}
