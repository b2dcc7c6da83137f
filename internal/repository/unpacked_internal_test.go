package repository

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/restic/chunker"
)

// newTestRepository returns a repository of the given version on an empty
// in-memory backend, without writing a key file or config.
func newTestRepository(t testing.TB, version uint) *Repository {
	t.Helper()
	key, err := crypto.NewRandomKey()
	if err != nil {
		t.Fatalf("NewRandomKey() = %v, want nil", err)
	}
	cfg, err := NewConfig(version, chunker.Pol(0x3DA3358B4DC173))
	if err != nil {
		t.Fatalf("NewConfig(%d) = %v, want nil", version, err)
	}
	r, err := newRepository(mem.New(), key, id.ID{}, cfg, Options{})
	if err != nil {
		t.Fatalf("newRepository() = %v, want nil", err)
	}
	return r
}

func FuzzDecodeUnpacked(f *testing.F) {
	v1 := newTestRepository(f, 1)
	v2 := newTestRepository(f, 2)

	doc := []byte(`{"packs":[{"id":"00","blobs":[]}]}`)
	frame := v2.codec.compress(nil, doc)
	for _, seed := range [][]byte{
		append([]byte{unpackedZstd}, frame...),
		append([]byte{unpackedZstd}, frame[:len(frame)-1]...),
		append([]byte{unpackedZstd}, v2.codec.compress(nil, nil)...),
		v2.codec.compress([]byte{unpackedZstd}, bytes.Repeat([]byte("a"), 1<<16)),
		doc,
		[]byte(`[1,2]`),
		{},
		{unpackedZstd},
		{5},
		{0},
		{0xff, '{'},
		{unpackedZstd, 0x28, 0xb5, 0x2f, 0xfd}, // bare zstd magic
		{unpackedZstd, 0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0}, // claims 2^60 content bytes
		append([]byte{unpackedZstd}, doc...),
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		out, err := v1.decodeUnpacked(data)
		if err != nil || !bytes.Equal(out, in) {
			t.Errorf("v1 decodeUnpacked(%q) = (%q, %v), want the input unchanged", in, out, err)
		}

		out, err = v2.decodeUnpacked(data)
		if !bytes.Equal(data, in) {
			t.Fatalf("v2 decodeUnpacked(%q) modified its input to %q", in, data)
		}
		if err != nil {
			if out != nil {
				t.Errorf("v2 decodeUnpacked(%q) = (%q, %v), want nil output with the error", in, out, err)
			}
			if !errors.Is(err, ErrInvalidData) {
				t.Errorf("v2 decodeUnpacked(%q) = %v, want an error matching ErrInvalidData", in, err)
			}
			return
		}
		switch {
		case len(in) == 0, in[0] == '{', in[0] == '[':
			if !bytes.Equal(out, in) {
				t.Errorf("v2 decodeUnpacked(%q) = %q, want the raw input", in, out)
			}
		case in[0] == unpackedZstd:
			// What we compress again must decode to the same document.
			back, err := v2.decodeUnpacked(v2.codec.compress([]byte{unpackedZstd}, out))
			if err != nil || !bytes.Equal(back, out) {
				t.Errorf("v2 decodeUnpacked(compress(%q)) = (%q, %v), want the document back", out, back, err)
			}
		default:
			t.Errorf("v2 decodeUnpacked(%q) = %q, want an error for leading byte %#x", in, out, in[0])
		}
	})
}
