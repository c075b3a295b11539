// Package jsonscan is the strict JSON scanner behind every gavel decoder:
// the events codec and the envelopes around its values (the session log's
// lines, the websocket frames, the NATS replies, the relay's messages) split
// an object into raw members, or an array into raw elements, with Object and
// Array, and convert the members with Fields.
//
// It accepts what encoding/json accepts as one JSON value, except for one
// thing, which gavel's JSON rules forbid: an object, at any depth, that
// names a member twice (compared after unescaping; ErrRepeatedMember).
// Member names are given to the caller unescaped and are to be matched
// exactly, so "Type" is an unknown field, not "type". It validates and
// splits in one pass without reflection: replaying a log spends most of its
// time here.
//
// Package jsonscan imports only the standard library; it is internal, for
// gavel's codecs.
package jsonscan

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// ErrRepeatedMember is matched (errors.Is) by the error for JSON with an
// object that names the same member twice: a reader that keeps the first
// and one that keeps the last would disagree about what it says.
var ErrRepeatedMember = errors.New("an object names a member twice")

// Object checks that b is one JSON object, with nothing but whitespace
// around it, and calls member with each member's name (unescaped) and raw
// value, in order; both alias b or memory the caller may keep. Input that is
// not an object is an error that says so ("not a JSON object").
func Object(b []byte, member func(name, value []byte)) error {
	var s scanner
	i := skipSpace(b, 0)
	switch {
	case i == len(b):
		return errors.New("empty input")
	case b[i] != '{':
		return fmt.Errorf("not a JSON object (starts with %s)", quoteByte(b[i]))
	}
	s.open()
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return end(b, i+1)
	}
	for {
		name, next, err := s.readName(b, i)
		if err != nil {
			return err
		}
		vs := skipSpace(b, next)
		ve, err := s.skipValue(b, vs, 1)
		if err != nil {
			return err
		}
		member(name, b[vs:ve])
		i = skipSpace(b, ve)
		switch {
		case i == len(b):
			return syntaxError(b, i, "")
		case b[i] == '}':
			return end(b, i+1)
		case b[i] != ',':
			return syntaxError(b, i, "after object key:value pair")
		}
		i++
	}
}

// Array checks that b is one JSON array, with nothing but whitespace around
// it, and calls elem with each element's raw value, in order. The value
// aliases b.
func Array(b []byte, elem func(value []byte)) error {
	var s scanner
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '[' {
		return syntaxError(b, i, "looking for beginning of array")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return end(b, i+1)
	}
	for {
		vs := skipSpace(b, i)
		ve, err := s.skipValue(b, vs, 1)
		if err != nil {
			return err
		}
		elem(b[vs:ve])
		i = skipSpace(b, ve)
		switch {
		case i == len(b):
			return syntaxError(b, i, "")
		case b[i] == ']':
			return end(b, i+1)
		case b[i] != ',':
			return syntaxError(b, i, "after array element")
		}
		i++
	}
}

// end checks that only whitespace follows the top-level value ending at i.
func end(b []byte, i int) error {
	if i = skipSpace(b, i); i < len(b) {
		return syntaxError(b, i, "after top-level value")
	}
	return nil
}

// scanner keeps the member names of the objects open at the point being
// scanned, innermost last, to find a name an object repeats. Objects are
// small, so a name is compared with the others of its object one by one; an
// object with many members gets a set, so that no input makes the check
// quadratic. The first names and levels fit arrays of the scanner's own, so
// that a scan, the scanner on the stack, allocates nothing (it holds no
// pointer into itself, which would move it to the heap).
type scanner struct {
	names     int        // names of the open objects' members
	nameBuf   [32][]byte // the first ones, unescaped
	moreNames [][]byte   // the others
	depth     int        // objects open
	startBuf  [16]int    // where each open object's names start
	moreStart []int
	sets      map[int]map[string]struct{} // by depth, for objects with many names
	escaped   []byte                      // backing for names with escapes
}

// manyNames is the size at which an object's names go into a set.
const manyNames = 16

func (s *scanner) name(i int) []byte {
	if i < len(s.nameBuf) {
		return s.nameBuf[i]
	}
	return s.moreNames[i-len(s.nameBuf)]
}

func (s *scanner) setName(i int, name []byte) {
	if i < len(s.nameBuf) {
		s.nameBuf[i] = name
		return
	}
	if j := i - len(s.nameBuf); j < len(s.moreNames) {
		s.moreNames[j] = name
	} else {
		s.moreNames = append(s.moreNames, name)
	}
}

func (s *scanner) start(d int) int {
	if d < len(s.startBuf) {
		return s.startBuf[d]
	}
	return s.moreStart[d-len(s.startBuf)]
}

func (s *scanner) open() {
	if d := s.depth; d < len(s.startBuf) {
		s.startBuf[d] = s.names
	} else if j := d - len(s.startBuf); j < len(s.moreStart) {
		s.moreStart[j] = s.names
	} else {
		s.moreStart = append(s.moreStart, s.names)
	}
	s.depth++
}

func (s *scanner) close() {
	s.depth--
	s.names = s.start(s.depth)
	delete(s.sets, s.depth)
}

// add records a member name of the innermost open object, or fails if the
// object has it already.
func (s *scanner) add(name []byte, off int) error {
	d := s.depth - 1
	first := s.start(d)
	if set := s.sets[d]; set != nil {
		if _, ok := set[string(name)]; ok {
			return repeated(name, off)
		}
		set[string(name)] = struct{}{}
	} else if s.names-first < manyNames {
		for i := first; i < s.names; i++ {
			if bytes.Equal(s.name(i), name) {
				return repeated(name, off)
			}
		}
	} else {
		set = make(map[string]struct{}, 2*manyNames)
		for i := first; i < s.names; i++ {
			set[string(s.name(i))] = struct{}{}
		}
		if _, ok := set[string(name)]; ok {
			return repeated(name, off)
		}
		set[string(name)] = struct{}{}
		if s.sets == nil {
			s.sets = make(map[int]map[string]struct{})
		}
		s.sets[d] = set
	}
	s.setName(s.names, name)
	s.names++
	return nil
}

func repeated(name []byte, off int) error {
	return fmt.Errorf("%w: %q (offset %d)", ErrRepeatedMember, name, off)
}

// skipValue returns the end of the JSON value starting at b[i], which is
// nested in depth containers.
func (s *scanner) skipValue(b []byte, i, depth int) (int, error) {
	var stackBuf [16]byte
	stack := stackBuf[:0] // the closing bracket of each open container
	for {
		// A value starts at i.
		i = skipSpace(b, i)
		if i == len(b) {
			return i, syntaxError(b, i, "")
		}
		var err error
		switch c := b[i]; c {
		case '{', '[':
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if depth+len(stack) == maxDepth {
				return i, fmt.Errorf("exceeded max nesting depth at offset %d", i)
			}
			j := skipSpace(b, i+1)
			if j < len(b) && b[j] == closer {
				i = j + 1
				break
			}
			stack = append(stack, closer)
			i = j
			if c == '{' {
				s.open()
				if _, i, err = s.readName(b, i); err != nil {
					return i, err
				}
			}
			continue
		case '"':
			i, err = skipString(b, i)
		case 't':
			i, err = skipLiteral(b, i, "true")
		case 'f':
			i, err = skipLiteral(b, i, "false")
		case 'n':
			i, err = skipLiteral(b, i, "null")
		default:
			if c == '-' || isDigit(c) {
				i, err = skipNumber(b, i)
			} else {
				err = syntaxError(b, i, "looking for beginning of value")
			}
		}
		if err != nil {
			return i, err
		}
		// After a value: close containers, or go on to the next element.
		for {
			if len(stack) == 0 {
				return i, nil
			}
			i = skipSpace(b, i)
			if i == len(b) {
				return i, syntaxError(b, i, "")
			}
			closer := stack[len(stack)-1]
			if b[i] == closer {
				stack = stack[:len(stack)-1]
				if closer == '}' {
					s.close()
				}
				i++
				continue
			}
			if b[i] != ',' {
				if closer == '}' {
					return i, syntaxError(b, i, "after object key:value pair")
				}
				return i, syntaxError(b, i, "after array element")
			}
			i++
			if closer == '}' {
				if _, i, err = s.readName(b, i); err != nil {
					return i, err
				}
			}
			break
		}
	}
}

// readName reads a member name of the innermost open object and its colon,
// starting at or before the name's opening quote: the name, unescaped, and
// where its value may start. A name the object has already is an error.
func (s *scanner) readName(b []byte, i int) (name []byte, next int, err error) {
	i = skipSpace(b, i)
	if i == len(b) || b[i] != '"' {
		return nil, i, syntaxError(b, i, "looking for beginning of object key string")
	}
	start := i
	if i, err = skipString(b, i); err != nil {
		return nil, i, err
	}
	name = b[start+1 : i-1]
	if !plainName(name) {
		from := len(s.escaped)
		s.escaped = appendUnquoted(s.escaped, name)
		name = s.escaped[from:len(s.escaped):len(s.escaped)]
	}
	if err := s.add(name, start); err != nil {
		return nil, start, err
	}
	i = skipSpace(b, i)
	if i == len(b) || b[i] != ':' {
		return nil, i, syntaxError(b, i, "after object key")
	}
	return name, i + 1, nil
}

// plainName reports whether a name, inside its quotes, is itself: no escape
// and valid UTF-8. Others are compared as they decode.
func plainName(name []byte) bool {
	for _, c := range name {
		if c == '\\' || c >= utf8.RuneSelf {
			return c != '\\' && utf8.Valid(name) && bytes.IndexByte(name, '\\') < 0
		}
	}
	return true
}

// skipString returns the end of the string whose opening quote is b[i].
func skipString(b []byte, i int) (int, error) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i++
			if i == len(b) {
				return i, syntaxError(b, i, "")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k == len(b) {
						return len(b), syntaxError(b, len(b), "")
					}
					if !isHex(b[i+k]) {
						return i + k, syntaxError(b, i+k, "in \\u hexadecimal character escape")
					}
				}
				i += 4
			default:
				return i, syntaxError(b, i, "in string escape code")
			}
		case c < 0x20:
			return i, syntaxError(b, i, "in string literal")
		}
	}
	return i, syntaxError(b, len(b), "")
}

// skipNumber returns the end of the number starting at b[i]
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
func skipNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i == len(b):
		return i, syntaxError(b, i, "")
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		i = skipDigits(b, i)
	default:
		return i, syntaxError(b, i, "in numeric literal")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i == len(b) || !isDigit(b[i]) {
			return i, syntaxError(b, i, "after decimal point in numeric literal")
		}
		i = skipDigits(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i == len(b) || !isDigit(b[i]) {
			return i, syntaxError(b, i, "in exponent of numeric literal")
		}
		i = skipDigits(b, i)
	}
	return i, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k == len(b) {
			return i + k, syntaxError(b, i+k, "")
		}
		if b[i+k] != lit[k] {
			return i + k, syntaxError(b, i+k, "in literal "+lit+" (expecting "+quoteByte(lit[k])+")")
		}
	}
	return i + len(lit), nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// syntaxError describes the byte at b[i] (or the end of input), in
// encoding/json's words.
func syntaxError(b []byte, i int, context string) error {
	if i >= len(b) {
		return fmt.Errorf("unexpected end of JSON input")
	}
	if context == "" {
		context = "looking for beginning of value"
	}
	return fmt.Errorf("invalid character %s %s (offset %d)", quoteByte(b[i]), context, i)
}

// unquote returns the string that q, a JSON string the scanner accepted
// (with its quotes), stands for, and whether q is valid Unicode: no byte
// that is not UTF-8 and no escaped surrogate without its pair. As
// encoding/json, it decodes each invalid part to U+FFFD.
func unquote(q []byte) (string, bool) {
	inner := q[1 : len(q)-1]
	ascii := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return string(inner), true
	}
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	s := appendUnquoted(make([]byte, 0, len(inner)), inner)
	return string(s), validUnquoted(inner)
}

// appendUnquoted appends what the inside of a JSON string the scanner
// accepted stands for, with U+FFFD for invalid parts (see unquote).
func appendUnquoted(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			r, n := unescape(s[i:])
			dst = utf8.AppendRune(dst, r)
			i += n
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			dst = utf8.AppendRune(dst, r) // U+FFFD for a bad byte, one each
			i += n
		}
	}
	return dst
}

// validUnquoted reports whether the inside of a JSON string is valid
// Unicode (see unquote).
func validUnquoted(s []byte) bool {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			r, n := unescape(s[i:])
			if r == utf8.RuneError && !(n == 6 && bytes.EqualFold(s[i:i+6], []byte(`\ufffd`))) {
				return false
			}
			i += n
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				return false
			}
			i += n
		}
	}
	return true
}

// unescape decodes the escape at the start of s, and returns the rune and
// the bytes it takes: a surrogate pair is one rune, a surrogate without its
// pair is U+FFFD.
func unescape(s []byte) (rune, int) {
	switch s[1] {
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r := hex4(s[2:6])
		if !utf16.IsSurrogate(r) {
			return r, 6
		}
		if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
			if pair := utf16.DecodeRune(r, hex4(s[8:12])); pair != utf8.RuneError {
				return pair, 12
			}
		}
		return utf8.RuneError, 6
	}
	return rune(s[1]), 2 // '"', '\\', '/'
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
