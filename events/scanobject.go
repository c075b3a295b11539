package events

import "github.com/gavelrtc/gavel/internal/jsonscan"

// ScanObject is jsonscan.Object, for the envelopes outside events.
func ScanObject(b []byte, member func(name, value []byte)) error { return jsonscan.Object(b, member) }

// DecodeString is jsonscan.String, for the envelopes outside events.
func DecodeString(b []byte) (string, error) { return jsonscan.String(b) }
