package azure

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/cairn-backup/cairn/internal/backend"
)

// Upload sizes. They are variables only so that a test can make block
// uploads happen with small files.
var (
	// singlePutLimit is the largest blob sent in one Put Blob request.
	// Packs (16 MiB to 128 MiB) and every other repository file stay
	// below it.
	singlePutLimit int64 = 256 << 20
	// blockSize is the size of the blocks of larger blobs, staged one
	// after the other and then committed as a block list.
	blockSize int64 = 64 << 20
)

// Save implements backend.Backend. It rewinds rd and sends exactly
// rd.Length() bytes of it: in one Put Blob request, or for a large file
// as blocks staged one at a time and a commit of the block list. Either
// way the blob appears whole or not at all, replacing an existing one.
// The upload holds one connection slot.
func (b *Backend) Save(ctx context.Context, h backend.Handle, rd backend.RewindReader) error {
	name, err := b.blobName(h)
	if err != nil {
		return err
	}
	op := "save " + h.String()
	if err := rd.Rewind(); err != nil {
		return backend.Permanent(fmt.Errorf("%s: rewind: %w", op, err))
	}
	size := rd.Length()
	if err := b.slots.Acquire(ctx); err != nil {
		return err
	}
	defer b.slots.Release()
	client := b.container.NewBlockBlobClient(name)
	if size <= singlePutLimit {
		body := &section{rd: rd, size: size, whole: true}
		_, err = client.Upload(ctx, body, &blockblob.UploadOptions{Tier: b.tier})
		// The transport may go on reading a request body after the
		// request failed; rd must be ours again before a retry rewinds it.
		body.detach()
		return classify(ctx, op, err)
	}

	var ids []string
	for off := int64(0); off < size; off += blockSize {
		n := min(blockSize, size-off)
		// Fixed-width IDs: all of a blob's block IDs must have one length.
		id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "cairn-block-%08d", len(ids)))
		body := &section{rd: rd, size: n}
		_, err := client.StageBlock(ctx, id, body, nil)
		complete := body.detach()
		if err != nil {
			return classify(ctx, fmt.Sprintf("%s: block %d", op, len(ids)), err)
		}
		if !complete {
			return fmt.Errorf("%s: block %d: the client did not send all of it", op, len(ids))
		}
		ids = append(ids, id)
	}
	_, err = client.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{Tier: b.tier})
	return classify(ctx, op+": commit", err)
}

// errDetached is what a section returns once detached.
var errDetached = errors.New("azure: read from a finished upload")

// section is the request body for the next size bytes of rd, as the SDK
// wants it: an io.ReadSeekCloser. It can seek only to its start and its
// end (the SDK measures a body that way and rewinds it). Going back to
// the start after reading works only for a whole file (rewinding rd); a
// section in the middle of rd cannot go back. Close does nothing: rd
// belongs to the caller of Save.
type section struct {
	mu       sync.Mutex // guards the fields below; held during rd.Read
	rd       backend.RewindReader
	size     int64
	whole    bool  // the section is all of rd, which may be rewound
	pos      int64 // the position reported to the client
	consumed int64 // bytes read from rd for this section
	detached bool
}

func (s *section) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.detached {
		return 0, errDetached
	}
	if s.pos >= s.size {
		return 0, io.EOF
	}
	if int64(len(p)) > s.size-s.pos {
		p = p[:s.size-s.pos]
	}
	n, err := s.rd.Read(p)
	s.pos += int64(n)
	s.consumed += int64(n)
	if err == io.EOF && s.pos < s.size {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF && s.pos == s.size {
		err = nil // the next Read reports it
	}
	return n, err
}

func (s *section) Seek(offset int64, whence int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	target := offset
	switch whence {
	case io.SeekCurrent:
		target += s.pos
	case io.SeekEnd:
		target += s.size
	}
	switch {
	case s.detached:
		return 0, errDetached
	case target == s.pos:
	case target == s.size:
		s.pos = s.size
	case target == 0 && s.consumed == 0:
		s.pos = 0
	case target == 0 && s.whole:
		if err := s.rd.Rewind(); err != nil {
			return 0, err
		}
		s.pos, s.consumed = 0, 0
	default:
		return 0, fmt.Errorf("azure: cannot seek an upload body to %d", target)
	}
	return s.pos, nil
}

// Close implements io.Closer; the reader stays open.
func (s *section) Close() error { return nil }

// detach ends access to rd, waiting for a running Read, and reports
// whether the whole section was read from rd.
func (s *section) detach() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.detached = true
	return s.consumed == s.size
}
