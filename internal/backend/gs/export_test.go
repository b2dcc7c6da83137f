package gs

// SetChunkSize sets the chunk size of resumable uploads until the
// returned function restores it. Tests using it must not run in parallel
// with other uploads.
func SetChunkSize(n int) (restore func()) {
	old := chunkSize
	chunkSize = n
	return func() { chunkSize = old }
}
