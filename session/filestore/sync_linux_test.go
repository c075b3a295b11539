package filestore

import (
	"os"
	"sync/atomic"
	"testing"
)

// countSyncs counts the syncs of the files (fdatasync, and fsync of a log
// synced whole) until the test ends. The test must not run in parallel with
// others of the package.
func countSyncs(t *testing.T) *atomic.Int64 {
	n := new(atomic.Int64)
	realData, realFile := fdatasync, fileSync
	fdatasync = func(fd int) error {
		n.Add(1)
		return realData(fd)
	}
	fileSync = func(f *os.File) error {
		n.Add(1)
		return realFile(f)
	}
	t.Cleanup(func() { fdatasync, fileSync = realData, realFile })
	return n
}
