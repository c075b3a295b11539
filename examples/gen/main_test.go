package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestExamplesUpToDate checks that the shipped logs are what gen records
// now, so that the scripts, this program and the logs never drift apart.
func TestExamplesUpToDate(t *testing.T) {
	for _, name := range names {
		got, err := record("..", name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := os.ReadFile(filepath.Join("..", name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("examples/%s.jsonl is not what gen records now: run go generate ./examples", name)
		}
	}
}
