//go:build !unix

package filestore

import (
	"errors"
	"os"
)

func lockDir(dir string) (*os.File, error) {
	return nil, errors.New("filestore: directory locks need a unix system")
}

func unlockDir(f *os.File) error { return f.Close() }

func syncDir(dir string) error { return nil }
