package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Object must accept exactly what a strict reader built on encoding/json
// accepts as one object: what encoding/json accepts, less any JSON in which
// an object (at any depth) names a member twice, compared after unescaping
// as encoding/json unescapes. It must split it into the members
// encoding/json puts in a map[string]json.RawMessage: names exact, not
// folded. Array likewise for arrays, split into the elements of a
// []json.RawMessage. These tests compare the two.

func isObject(b []byte) bool {
	return json.Valid(b) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{"))
}

func isArray(b []byte) bool {
	return json.Valid(b) && bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("["))
}

// repeatsName reports whether an object in b, valid JSON, names a member
// twice, by encoding/json's tokens (which unescape names).
func repeatsName(b []byte) bool {
	type open struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	var stack []*open
	d := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		var top *open
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.wantKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k], top.wantKey = true, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &open{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &open{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: its object wants a key next.
		if len(stack) > 0 {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// checkScanArray fails t if Array and the strict reader disagree on b.
func checkScanArray(t *testing.T, b []byte) {
	t.Helper()
	in := b
	if len(in) > 80 {
		in = append(in[:77:77], "..."...)
	}
	var got []json.RawMessage
	err := Array(b, func(v []byte) { got = append(got, v) })
	want := isArray(b) && !repeatsName(b)
	if (err == nil) != want {
		t.Fatalf("Array(%q) = %v; the strict reader accepts it as an array: %v", in, err, want)
	}
	if err != nil {
		if isArray(b) && !errors.Is(err, ErrRepeatedMember) {
			t.Fatalf("Array(%q) = %v, want ErrRepeatedMember", in, err)
		}
		return
	}
	ref := []json.RawMessage{}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", in, err)
	}
	if diff := cmp.Diff(ref, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("elements of %q (-encoding/json +Array):\n%s", in, diff)
	}
}

// checkScan fails t if Object and the strict reader disagree on b.
func checkScan(t *testing.T, b []byte) {
	t.Helper()
	in := b
	if len(in) > 80 {
		in = append(in[:77:77], "..."...)
	}
	got := map[string]json.RawMessage{}
	seen := 0
	err := Object(b, func(name, value []byte) {
		got[string(name)] = value
		seen++
	})
	want := isObject(b) && !repeatsName(b)
	if (err == nil) != want {
		t.Fatalf("Object(%q) = %v; the strict reader accepts it as an object: %v", in, err, want)
	}
	if err != nil {
		if isObject(b) && !errors.Is(err, ErrRepeatedMember) {
			t.Fatalf("Object(%q) = %v, want ErrRepeatedMember", in, err)
		}
		return
	}
	var ref map[string]json.RawMessage
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", in, err)
	}
	if diff := cmp.Diff(ref, got, cmpopts.EquateEmpty()); diff != "" || seen != len(ref) {
		t.Errorf("members of %q (-encoding/json +Object, %d seen):\n%s", in, seen, diff)
	}
}

var scanSeeds = []string{
	`{}`, ` { } `, "\t{\r\n}\n", `{"a":1}`, `[]`, `null`, `"x"`, `1`, ``, ` `, `{`, `}`, `{"a"}`, `{"a":}`,
	`{"a":1,}`, `{,}`, `{"a":1 "b":2}`, `{"a":1}x`, `{"a":1}{}`, `{"a":1} `, `{'a':1}`, `{a:1}`,
	`{"cmd":{"id":"c1","type":"join","actor":"ann","name":"Ann","preset":"host","audio":true,"video":false},"events":[{"seq":1}]}`,
	`{"cmd":{"id":"c1"},"cmd":{"id":"c2"}}`,
	`{"cmd":{"id":"c1"},"cmd":null}`,
	`{"cmd":{"id":"c1","id":"c1"}}`,
	`{"cmd":{"id":"c1"},"future":{"a":[{"b":1,"c":{"b":2},"b":3}]}}`,
	`{"future":[{"x":1},{"x":1}],"y":{"x":{"x":{"x":1}}}}`,
	`{"cmd":{"id":"c1","type":"join","\u0074ype":"kick_all"}}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"a":19}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":{"a":1,"a":2}}`,
	"{\"\xff\":1,\"\xfe\":2}", "{\"\xff\":1,\"\ufffd\":2}", `{"\ud800":1,"\udc00":2}`,
	`{"CMD":{"ID":"c1","Type":"leave","ACTOR":"ann"}}`,
	`{"Type":"kick_all","type":"kick"}`,
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

// TestScanManyNames: an object with many members is checked for repeats in
// linear time, and a repeat found wherever it is.
func TestScanManyNames(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"x":{`)
	for i := range 100000 {
		fmt.Fprintf(&b, `"m%d":%d,`, i, i)
	}
	b.WriteString(`"m0":0}}`)
	if err := Object([]byte(b.String()), func(_, _ []byte) {}); !errors.Is(err, ErrRepeatedMember) {
		t.Errorf("Object of 100,000 names and a repeat = %v, want ErrRepeatedMember", err)
	}
	ok := strings.Replace(b.String(), `"m0":0}}`, `"last":0}}`, 1)
	if err := Object([]byte(ok), func(_, _ []byte) {}); err != nil {
		t.Errorf("Object of 100,001 names: %v", err)
	}
}
