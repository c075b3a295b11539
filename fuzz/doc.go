// Package fuzz holds gavel's fuzz targets, native `go test -fuzz` targets
// that feed arbitrary bytes to everything that reads untrusted input or runs
// on it: the command and event decoders of package events, the line
// decoder, reader and replay of package sessionlog, and sessions through the
// reducer (decoded from the bytes by package gaveltest), whose every step
// must keep gaveltest's invariants.
//
// Seed corpora are in testdata/fuzz/<Target>/ and run with every `go test`;
// run one target for a while with, for example,
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzCommandSequence$' -fuzztime 5s
//
// The package has no code of its own outside its tests, which import every
// other gavel package they need; nothing imports it.
package fuzz
