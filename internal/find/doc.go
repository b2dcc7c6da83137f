// Package find searches snapshot trees for the find command: entries whose
// paths match glob patterns, files holding data blobs and directories
// holding trees whose IDs start with given prefixes, and the data blobs of
// packs. It reports what it finds through callbacks; the command prints.
//
// It is a package of its own rather than part of walker: walker is the
// plain depth-first visitor that ls, dump, stats and diff share and needs
// nothing but tree blobs, while find's matching brings in patterns
// (internal/filter) and the repository's index.
package find
