package filestore

import "os"

// fileSync is os.File.Sync (fsync: data and metadata), for a log synced
// whole and, where there is no fdatasync, for every sync. TestAppendSyncs
// counts the calls through it (and through fdatasync), so that appends that
// stop syncing fail a test.
var fileSync = (*os.File).Sync
