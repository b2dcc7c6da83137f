// Package index maps blobs to their place in pack files. It decodes and
// encodes restic's index file JSON and holds the in-memory lookup table
// built from all index files of a repository.
package index
