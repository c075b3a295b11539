package filestore

import (
	"sync/atomic"
	"testing"
)

// countSyncs counts the data syncs of the files until the test ends. The
// test must not run in parallel with others of the package.
func countSyncs(t *testing.T) *atomic.Int64 {
	n := new(atomic.Int64)
	real := fdatasync
	fdatasync = func(fd int) error {
		n.Add(1)
		return real(fd)
	}
	t.Cleanup(func() { fdatasync = real })
	return n
}
