package filestore

import (
	"os"
	"syscall"
)

// fdatasync is the system call; TestAppendSyncs counts the calls through
// it, so that appends that stop syncing fail a test.
var fdatasync = syscall.Fdatasync

// syncData makes f's data durable: fdatasync, which skips metadata that
// reading the data does not need (such as the modification time).
func syncData(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) { serr = fdatasync(int(fd)) }); err != nil {
		return err
	}
	return serr
}
