package s3

// SetUploadSizes sets the single-PUT limit and the multipart part size
// until the returned function restores them. Tests using it must not run
// in parallel with other uploads.
func SetUploadSizes(single int64, part uint64) (restore func()) {
	oldSingle, oldPart := singlePutLimit, partSize
	singlePutLimit, partSize = single, part
	return func() { singlePutLimit, partSize = oldSingle, oldPart }
}
