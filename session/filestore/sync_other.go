//go:build !linux

package filestore

import "os"

// fsync is os.File.Sync; TestAppendSyncs counts the calls through it, so
// that appends that stop syncing fail a test.
var fsync = (*os.File).Sync

// syncData makes f's data durable.
func syncData(f *os.File) error { return fsync(f) }
