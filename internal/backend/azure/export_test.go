package azure

// SetUploadSizes sets the single-put limit and the block size until the
// returned function restores them. Tests using it must not run in
// parallel with other uploads.
func SetUploadSizes(single, block int64) (restore func()) {
	oldSingle, oldBlock := singlePutLimit, blockSize
	singlePutLimit, blockSize = single, block
	return func() { singlePutLimit, blockSize = oldSingle, oldBlock }
}

// SetListPageSize sets how many blobs a List request asks for until the
// returned function restores it.
func SetListPageSize(n int32) (restore func()) {
	old := listPageSize
	listPageSize = n
	return func() { listPageSize = old }
}
