package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// scanObject must accept exactly what encoding/json accepts as one object,
// and split it into the fields encoding/json would fill (names folded, the
// last duplicate winning); scanArray must accept exactly what it accepts as
// one array, and split it into the elements it would fill a
// []json.RawMessage with. These tests compare the two.

// taggedRecord and taggedCommand are wireRecord and wireCommand as
// encoding/json fills them.
type taggedRecord struct {
	At     json.RawMessage `json:"at"`
	Cmd    json.RawMessage `json:"cmd"`
	Events json.RawMessage `json:"events"`
	Error  json.RawMessage `json:"error"`
	State  json.RawMessage `json:"state"`
}

type taggedCommand struct {
	ID      json.RawMessage `json:"id"`
	Type    json.RawMessage `json:"type"`
	Actor   json.RawMessage `json:"actor"`
	Target  json.RawMessage `json:"target"`
	Name    json.RawMessage `json:"name"`
	Preset  json.RawMessage `json:"preset"`
	Audio   json.RawMessage `json:"audio"`
	Video   json.RawMessage `json:"video"`
	Enabled json.RawMessage `json:"enabled"`
}

func isObject(b []byte) bool {
	return json.Valid(b) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
}

func isArray(b []byte) bool {
	return json.Valid(b) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("["))
}

// checkScanArray fails t if scanArray and encoding/json disagree on b.
func checkScanArray(t *testing.T, b []byte) {
	t.Helper()
	in := b
	if len(in) > 80 {
		in = append(in[:77:77], "..."...)
	}
	var got []json.RawMessage
	err := scanArray(b, func(v []byte) { got = append(got, v) })
	if want := isArray(b); (err == nil) != want {
		t.Fatalf("scanArray(%q) = %v; encoding/json accepts it as an array: %v", in, err, want)
	}
	if err != nil {
		return
	}
	want := []json.RawMessage{}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", in, err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("elements of %q (-encoding/json +scanArray):\n%s", in, diff)
	}
}

// checkScan fails t if scanObject and encoding/json disagree on b.
func checkScan(t *testing.T, b []byte) {
	t.Helper()
	in := b
	if len(in) > 80 {
		in = append(in[:77:77], "..."...)
	}
	var rec wireRecord
	err := scanObject(b, rec.set)
	if want := isObject(b); (err == nil) != want {
		t.Fatalf("scanObject(%q) = %v; encoding/json accepts it as an object: %v", in, err, want)
	}
	if err != nil {
		return
	}
	var tr taggedRecord
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", in, err)
	}
	if diff := cmp.Diff(taggedRecord(rec), tr); diff != "" {
		t.Errorf("record fields of %q (-scanObject +encoding/json):\n%s", in, diff)
	}
	var cmd wireCommand
	if err := scanObject(b, cmd.set); err != nil {
		t.Fatalf("scanObject(%q) as a command: %v", in, err)
	}
	var tc taggedCommand
	if err := json.Unmarshal(b, &tc); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", in, err)
	}
	if diff := cmp.Diff(taggedCommand(cmd), tc); diff != "" {
		t.Errorf("command fields of %q (-scanObject +encoding/json):\n%s", in, diff)
	}
}

var scanSeeds = []string{
	`{}`, ` { } `, "\t{\r\n}\n", `{"a":1}`, `[]`, `null`, `"x"`, `1`, ``, ` `, `{`, `}`, `{"a"}`, `{"a":}`,
	`{"a":1,}`, `{,}`, `{"a":1 "b":2}`, `{"a":1}x`, `{"a":1}{}`, `{"a":1} `, `{'a':1}`, `{a:1}`,
	`{"cmd":{"id":"c1","type":"join","actor":"ann","name":"Ann","preset":"host","audio":true,"video":false},"events":[{"seq":1}]}`,
	`{"cmd":{"id":"c1"},"cmd":{"id":"c2"}}`,
	`{"cmd":{"id":"c1"},"cmd":null}`,
	`{"CMD":{"ID":"c1","Type":"leave","ACTOR":"ann"}}`,
	`{"\u0063md":{"i\u0064":"c1"}}`,
	"{\"\u017ftate\":{},\"eventſ\":[]}",
	"{\"\u212a\":1,\"at\":\"2025-01-01T00:00:00Z\"}",
	`{"at":"\ud83d\ude00","id":"\"\\\/\b\f\n\r\t"}`,
	`{"id":"\x"}`, `{"id":"\u12"}`, `{"id":"\u12g4"}`, "{\"id\":\"a\x01b\"}", "{\"id\":\"\xff\xfe\"}",
	`{"n":-0,"m":0.5,"e":1e10,"f":-1.25E-3,"g":1E+2}`,
	`{"n":01}`, `{"n":-}`, `{"n":1.}`, `{"n":.5}`, `{"n":1e}`, `{"n":+1}`, `{"n":1e+}`, `{"n":--1}`,
	`{"t":true,"f":false,"z":null}`, `{"t":tru}`, `{"t":trUe}`, `{"z":nul}`, `{"f":falsey}`,
	`{"a":[1,[2,{"b":[]}],{}],"c":{"d":{"e":[null]}}}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":{"b":1,}}`,
	`{"a":[1 2]}`, `{"a":{"b" 1}}`, `{"a":{1:2}}`, `{"a":[}`, `{"a":{]}`, `{"a":"unterminated}`,
	`{"a":1}` + "\x00", "{\"a\":1\x00}",
	` [ ] `, "\t[\r\n]\n", `[1]`, `[ 1 , "x" ,null,true,false,-1.5e3,{"a":[1]},[[],{}] ]`, `[{"seq":1,"type":"pinned"}]`,
	`[1,]`, `[,]`, `[,1]`, `[1 2]`, `[1,,2]`, `[`, `]`, `[1`, `[1,`, `[1]x`, `[1][]`, `[1]]`, `[}`, `[{]`, `[{"a"}]`,
	`["\u12"]`, `["a` + "\x01" + `"]`, `[01]`, `[tru]`, "[1]\x00", "[\x00]", `[[1,[2,[3]]],"]"]`,
}

func TestScanObjectMatchesEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		checkScan(t, []byte(s))
	}
}

func TestScanArrayMatchesEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		checkScanArray(t, []byte(s))
	}
}

// TestScanObjectDepth checks the nesting limit encoding/json has (10000).
func TestScanObjectDepth(t *testing.T) {
	for _, depth := range []int{9998, 9999, 10000, 10001} {
		// depth arrays inside the top-level object: depth+1 levels in all.
		b := []byte(`{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`)
		checkScan(t, b)
	}
}

// TestScanArrayDepth checks the nesting limit for arrays.
func TestScanArrayDepth(t *testing.T) {
	for _, depth := range []int{9998, 9999, 10000, 10001} {
		// depth arrays inside the top-level array.
		b := []byte(`[1,` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `]`)
		checkScanArray(t, b)
	}
}

func FuzzScanObject(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkScan)
}

func FuzzScanArray(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkScanArray)
}
