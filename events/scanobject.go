package events

import "fmt"

// ScanObject checks that b is one JSON object, with nothing but whitespace
// around it and no object in it that names a member twice, and calls member
// with each member's name (unescaped) and raw value, in order; both alias b
// or memory of the scan's own. Match names exactly (string(name) == "type"):
// gavel's JSON is case-sensitive. Envelopes around the codec's values (the
// websocket frames of transport/ws/wire, the NATS replies) split their
// fields with it in the single pass the codec's own decoders use.
// Input that is not an object is an error that says so ("not a JSON object").
func ScanObject(b []byte, member func(name, value []byte)) error {
	if err := expectObject(b); err != nil {
		return err
	}
	return scanObject(b, member)
}

// DecodeString decodes b, one JSON string value as ScanObject gives it
// (with its quotes), to the string it stands for; invalid UTF-8 decodes to
// U+FFFD, as in encoding/json. Anything but a string is an error.
func DecodeString(b []byte) (string, error) {
	if len(b) < 2 || b[0] != '"' {
		return "", fmt.Errorf("not a JSON string: %.32s", b)
	}
	if end, err := skipString(b, 0); err != nil || end != len(b) {
		return "", fmt.Errorf("not one JSON string: %.32s", b)
	}
	s, _ := unquote(b)
	return s, nil
}
