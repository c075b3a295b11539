package events

// ScanObject checks that b is one JSON object, with nothing but whitespace
// around it (accepting what encoding/json accepts), and calls member with
// each member's name (unescaped) and raw value, in order; both alias b.
// Envelopes around the codec's values (the websocket frames of
// transport/ws/wire) split their fields with it in the single pass the
// codec's own decoders use.
func ScanObject(b []byte, member func(name, value []byte)) error { return scanObject(b, member) }
