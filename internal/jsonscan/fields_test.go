package jsonscan

import (
	"strings"
	"testing"
)

// convert runs one Fields method on raw and returns what it read and the
// error it kept, as text.
func convert(kind, raw string) (got any, err string) {
	var f Fields
	switch kind {
	case "str":
		got = f.Str([]byte(raw), "m")
	case "text":
		got = f.Text([]byte(raw), "m")
	case "bool":
		got = f.Bool([]byte(raw), "m")
	case "uint":
		got = f.Uint([]byte(raw), "m")
	case "optStr":
		if p := f.OptStr([]byte(raw), "m"); p != nil {
			got = *p
		}
	}
	if f.Err != nil {
		err = f.Err.Error()
	}
	return got, err
}

func TestFields(t *testing.T) {
	long := `"` + strings.Repeat("x", 40) + `"`
	for _, tc := range []struct {
		kind, raw string
		want      any
		err       string
	}{
		{"str", ``, "", ""},
		{"str", `null`, "", ""},
		{"str", `"a\u00e9\n"`, "a\u00e9\n", ""},
		{"str", "\"\xff\"", "\ufffd", ""},
		{"str", `"\ud800"`, "\ufffd", ""},
		{"str", `1`, "", `"m" must be a string, not 1`},
		{"str", `[` + long + `]`, "", `"m" must be a string, not ["xxxxxxxxxxxxxxxxxxxxxxxxxxx...`},
		{"text", `"ann"`, "ann", ""},
		{"text", `null`, "", ""},
		{"text", "\"\xff\"", "", "\"m\" must be valid UTF-8, not \"\xff\""},
		{"text", `"\ud800"`, "", `"m" must be valid UTF-8, not "\ud800"`},
		{"text", `"\ufffd"`, "\ufffd", ""},
		{"text", `true`, "", `"m" must be a string, not true`},
		{"bool", `true`, true, ""},
		{"bool", `false`, false, ""},
		{"bool", `null`, false, ""},
		{"bool", ``, false, ""},
		{"bool", `"yes"`, false, `"m" must be true or false, not "yes"`},
		{"bool", `1`, false, `"m" must be true or false, not 1`},
		{"uint", `0`, uint64(0), ""},
		{"uint", `null`, uint64(0), ""},
		{"uint", `18446744073709551615`, uint64(18446744073709551615), ""},
		{"uint", `18446744073709551616`, uint64(0), `"m" must be a non-negative integer, not 18446744073709551616`},
		{"uint", `-1`, uint64(0), `"m" must be a non-negative integer, not -1`},
		{"uint", `1.0`, uint64(0), `"m" must be a non-negative integer, not 1.0`},
		{"uint", `1e3`, uint64(0), `"m" must be a non-negative integer, not 1e3`},
		{"uint", `"1"`, uint64(0), `"m" must be a non-negative integer, not "1"`},
		{"optStr", `null`, nil, ""},
		{"optStr", ``, nil, ""},
		{"optStr", `""`, "", ""},
		{"optStr", `"0"`, "0", ""},
		{"optStr", `0`, "", `"m" must be a string, not 0`},
	} {
		got, err := convert(tc.kind, tc.raw)
		if got != tc.want || err != tc.err {
			t.Errorf("%s(%s) = %#v, %q; want %#v, %q", tc.kind, tc.raw, got, err, tc.want, tc.err)
		}
	}
}

// TestFieldsFirstError: a decoder reads every field and reports the first
// that failed.
func TestFieldsFirstError(t *testing.T) {
	var f Fields
	f.Str([]byte(`"ok"`), "a")
	f.Uint([]byte(`-1`), "b")
	f.Bool([]byte(`2`), "c")
	f.Fail("d", "something", []byte(`3`))
	if f.Err == nil || f.Err.Error() != `"b" must be a non-negative integer, not -1` {
		t.Errorf("Err = %v, want the failure of b", f.Err)
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{`""`, "", ""},
		{`"a\"b"`, `a"b`, ""},
		{"\"\xff\"", "\ufffd", ""},
		{``, "", "not a JSON string: "},
		{`null`, "", "not a JSON string: null"},
		{`1`, "", "not a JSON string: 1"},
		{`"a"x`, "", `not one JSON string: "a"x`},
		{`"a" "b"`, "", `not one JSON string: "a" "b"`},
		{`"a`, "", `not one JSON string: "a`},
		{`"\x"`, "", `not one JSON string: "\x"`},
	} {
		got, err := String([]byte(tc.in))
		var msg string
		if err != nil {
			msg = err.Error()
		}
		if got != tc.want || msg != tc.err {
			t.Errorf("String(%s) = %q, %q; want %q, %q", tc.in, got, msg, tc.want, tc.err)
		}
	}
}

// TestObjectNotAnObject: input that is not an object says so, before
// anything else is checked.
func TestObjectNotAnObject(t *testing.T) {
	for in, want := range map[string]string{
		``:        "empty input",
		" \t\r\n": "empty input",
		`null`:    `not a JSON object (starts with "n")`,
		` [1]`:    `not a JSON object (starts with "[")`,
		"\x00{}":  "not a JSON object (starts with byte 0x00)",
	} {
		err := Object([]byte(in), func(_, _ []byte) { t.Errorf("Object(%q) called member", in) })
		if err == nil || err.Error() != want {
			t.Errorf("Object(%q) = %v, want %s", in, err, want)
		}
	}
}
