//go:build !linux

package filestore

import (
	"os"
	"sync/atomic"
	"testing"
)

// countSyncs counts the syncs of the files until the test ends. The test
// must not run in parallel with others of the package.
func countSyncs(t *testing.T) *atomic.Int64 {
	n := new(atomic.Int64)
	real := fileSync
	fileSync = func(f *os.File) error {
		n.Add(1)
		return real(f)
	}
	t.Cleanup(func() { fileSync = real })
	return n
}
