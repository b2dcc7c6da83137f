package local

import "github.com/cairn-backup/cairn/internal/backend"

// Temporary file names say who writes them (see backend.TempName):
//
//	<name>-tmp-<host8>-<pid>-<random>
//
// Older names ("<name>-tmp-<random>", "pack-tmp-<digits>") carry no
// writer and are swept by age only.

// writerTag is "<host8>-<pid>", the part of a temporary name that names
// this process.
func writerTag() string { return backend.TempWriterTag() }

// tempName returns a new temporary name for the file base.
func tempName(base string) string { return backend.TempName(base, tmpMarker) }

// writerGone reports whether the temporary file name was written by a
// process of this host that is gone.
func writerGone(name string) bool { return backend.TempWriterGone(name, tmpMarker) }
