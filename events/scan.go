package events

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// A hand-written scanner for the objects the decoders split into raw fields
// (records, commands, events, errors) and the arrays they split into raw
// elements (a record's events). It accepts exactly what encoding/json
// accepts and matches member names as encoding/json matches struct fields,
// but it validates and splits in one pass without reflection: replaying a
// log spends most of its time here.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// scanObject checks that b is one JSON object, with nothing but whitespace
// around it, and calls member with each member's name (unescaped) and raw
// value, in order. Both alias b.
func scanObject(b []byte, member func(name, value []byte)) error {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return syntaxError(b, i, "looking for beginning of object")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return end(b, i+1)
	}
	for {
		name, next, err := readName(b, i)
		if err != nil {
			return err
		}
		vs := skipSpace(b, next)
		ve, err := skipValue(b, vs, 1)
		if err != nil {
			return err
		}
		member(unquoteName(name), b[vs:ve])
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

// scanArray checks that b is one JSON array, with nothing but whitespace
// around it, and calls elem with each element's raw value, in order. The
// value aliases b.
func scanArray(b []byte, elem func(value []byte)) error {
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
		ve, err := skipValue(b, vs, 1)
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

// skipValue returns the end of the JSON value starting at b[i], which is
// nested in depth containers.
func skipValue(b []byte, i, depth int) (int, error) {
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
				if _, i, err = readName(b, i); err != nil {
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
				if _, i, err = readName(b, i); err != nil {
					return i, err
				}
			}
			break
		}
	}
}

// readName reads a member name and its colon, starting at or before the
// name's opening quote: the name with its quotes, and where its value may
// start.
func readName(b []byte, i int) (name []byte, next int, err error) {
	i = skipSpace(b, i)
	if i == len(b) || b[i] != '"' {
		return nil, i, syntaxError(b, i, "looking for beginning of object key string")
	}
	start := i
	if i, err = skipString(b, i); err != nil {
		return nil, i, err
	}
	name = b[start:i]
	i = skipSpace(b, i)
	if i == len(b) || b[i] != ':' {
		return nil, i, syntaxError(b, i, "after object key")
	}
	return name, i + 1, nil
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

// unquoteName returns a member name, given with its quotes, as the string
// it stands for. Escapes are rare in names; only they need a decoder.
// (Invalid UTF-8, which encoding/json would replace, cannot match an ASCII
// field name either way.)
func unquoteName(q []byte) []byte {
	inner := q[1 : len(q)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	var s string
	_ = json.Unmarshal(q, &s) // q is a valid JSON string: this cannot fail
	return []byte(s)
}

// nameIs reports whether a member name matches a field name as
// encoding/json matches struct fields: exactly, or under Unicode case
// folding.
func nameIs(name []byte, field string) bool { return bytes.EqualFold(name, []byte(field)) }
