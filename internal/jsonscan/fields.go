package jsonscan

import (
	"fmt"
	"unicode/utf8"
)

// String decodes b, one JSON string value as Object gives it (with its
// quotes), to the string it stands for; invalid UTF-8 decodes to U+FFFD, as
// in encoding/json. Anything but a string is an error.
func String(b []byte) (string, error) {
	if len(b) < 2 || b[0] != '"' {
		return "", fmt.Errorf("not a JSON string: %.32s", b)
	}
	if end, err := skipString(b, 0); err != nil || end != len(b) {
		return "", fmt.Errorf("not one JSON string: %.32s", b)
	}
	s, _ := unquote(b)
	return s, nil
}

// Absent reports whether a raw member is missing or null: both read as the
// zero value.
func Absent(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

// Fields converts raw members (each one JSON value Object or Array gave),
// keeping the first error in Err, so that a decoder reads every field and
// checks once. An absent member reads as the zero value; one of another JSON
// type fails with an error that names it: "seq" must be a non-negative
// integer, not -1.
type Fields struct {
	Err error // the first failure
}

// Fail records that the member name, raw, is not what the decoder wants (in
// words: "a string"), unless a failure came first.
func (f *Fields) Fail(name, want string, raw []byte) {
	if f.Err == nil {
		if len(raw) > 32 {
			raw = append(raw[:29:29], "..."...)
		}
		f.Err = fmt.Errorf("%q must be %s, not %s", name, want, raw)
	}
}

// Str converts a string member; invalid UTF-8 decodes to U+FFFD, as in
// encoding/json.
func (f *Fields) Str(raw []byte, name string) string {
	s, _ := f.str(raw, name)
	return s
}

// OptStr is Str for a member that may be absent or null (nil).
func (f *Fields) OptStr(raw []byte, name string) *string {
	if Absent(raw) {
		return nil
	}
	s := f.Str(raw, name)
	return &s
}

// Text converts a string member that must be valid Unicode, as a command's
// strings (SPEC check 1): else it fails, and the member reads as "".
func (f *Fields) Text(raw []byte, name string) string {
	s, ok := f.str(raw, name)
	if !ok {
		f.Fail(name, "valid UTF-8", raw)
		return ""
	}
	return s
}

// str is Str, and whether the string is valid Unicode (see unquote); one
// that is absent or not a string is.
func (f *Fields) str(raw []byte, name string) (string, bool) {
	if Absent(raw) {
		return "", true
	}
	if raw[0] != '"' {
		f.Fail(name, "a string", raw)
		return "", true
	}
	return unquote(raw)
}

// Bool converts a true or false member.
func (f *Fields) Bool(raw []byte, name string) bool {
	switch string(raw) {
	case "", "null", "false":
		return false
	case "true":
		return true
	}
	f.Fail(name, "true or false", raw)
	return false
}

// Uint converts a non-negative integer member: digits only, as encoding/json
// reads a number into a uint64.
func (f *Fields) Uint(raw []byte, name string) uint64 {
	if Absent(raw) {
		return 0
	}
	var n uint64
	for _, c := range raw {
		d := uint64(c - '0')
		if c < '0' || c > '9' || n > (1<<64-1-d)/10 {
			f.Fail(name, "a non-negative integer", raw)
			return 0
		}
		n = n*10 + d
	}
	return n
}

// quoteByte names a byte in an error message.
func quoteByte(b byte) string {
	if b < utf8.RuneSelf && b >= 0x20 {
		return fmt.Sprintf("%q", string(b))
	}
	return fmt.Sprintf("byte 0x%02x", b)
}
