// Package examples holds gavel's example session logs (the *.jsonl files
// beside this one, explained in README.md) and, in gen/, the program that
// records them. Its tests check that every log passes replay -verify and
// that the logs are what gen makes now.
package examples

//go:generate go run ./gen
