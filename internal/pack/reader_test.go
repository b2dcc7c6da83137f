package pack_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/pack"
)

func readHeader(t *testing.T, data []byte, key *crypto.Key) ([]blob.Blob, error) {
	t.Helper()
	return pack.ReadHeader(t.Context(), bytes.NewReader(data), int64(len(data)), key)
}

// wantInvalid fails unless err wraps pack.ErrInvalid.
func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, pack.ErrInvalid) {
		t.Errorf("%s: err = %v, want one wrapping ErrInvalid", what, err)
	}
}

// sealedPack assembles a pack from a blob area and a plaintext header of
// the caller's choosing, bypassing the Writer's checks.
func sealedPack(key *crypto.Key, area, plainHeader []byte) []byte {
	out := append([]byte(nil), area...)
	out = key.Seal(out, plainHeader)
	return binary.LittleEndian.AppendUint32(out, uint32(len(out)-len(area)))
}

func setLength(data []byte, hlen uint32) []byte {
	out := bytes.Clone(data)
	binary.LittleEndian.PutUint32(out[len(out)-4:], hlen)
	return out
}

func TestReadHeaderCorrupt(t *testing.T) {
	key := fixedKey(t)
	blobs := makeBlobs(rand.New(rand.NewPCG(3, 3)), []spec{{blob.Data, 40, false}, {blob.Data, 10, true}, {blob.Data, 7, false}})
	data, _ := buildPack(t, key, blobs)
	hlen := int(binary.LittleEndian.Uint32(data[len(data)-4:]))
	hstart := len(data) - 4 - hlen

	t.Run("flipped header byte", func(t *testing.T) {
		for i := hstart; i < len(data)-4; i++ {
			bad := bytes.Clone(data)
			bad[i] ^= 0x40
			_, err := readHeader(t, bad, key)
			wantInvalid(t, "flip", err)
			if !errors.Is(err, crypto.ErrUnauthenticated) {
				t.Errorf("flip byte %d: err = %v, want ErrUnauthenticated", i, err)
			}
		}
	})
	t.Run("wrong length field", func(t *testing.T) {
		for _, l := range []uint32{
			0, 1, crypto.Overhead - 1, crypto.Overhead, uint32(hlen - 1), uint32(hlen + 1),
			uint32(len(data) - 4), uint32(len(data) - 3), pack.MaxHeaderSize - 3, pack.MaxHeaderSize, math.MaxUint32,
		} {
			_, err := readHeader(t, setLength(data, l), key)
			wantInvalid(t, "length "+strconv.Itoa(int(l)), err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		for n := range len(data) {
			_, err := readHeader(t, data[:n], key)
			wantInvalid(t, "truncated to "+strconv.Itoa(n), err)
		}
	})
	t.Run("truncated front", func(t *testing.T) {
		for n := 1; n < len(data); n++ {
			_, err := readHeader(t, data[n:], key)
			wantInvalid(t, "first bytes cut: "+strconv.Itoa(n), err)
		}
	})
	t.Run("extra byte before header", func(t *testing.T) {
		bad := append(bytes.Clone(data[:hstart]), 0)
		bad = append(bad, data[hstart:]...)
		_, err := readHeader(t, bad, key)
		wantInvalid(t, "extra byte", err)
	})
	t.Run("wrong key", func(t *testing.T) {
		other, err := crypto.NewRandomKey()
		if err != nil {
			t.Fatal(err)
		}
		_, err = readHeader(t, data, other)
		if !errors.Is(err, pack.ErrInvalid) || !errors.Is(err, crypto.ErrUnauthenticated) {
			t.Errorf("err = %v, want ErrInvalid and ErrUnauthenticated", err)
		}
	})

	entry := pack.AppendHeader(nil, []blob.Blob{{Handle: blob.Handle{Type: blob.Tree}, Length: 100}})
	area := make([]byte, 100)
	crafted := []struct {
		name   string
		area   []byte
		header []byte
	}{
		{"no entries", area, nil},
		{"unknown type", area, append([]byte{4}, entry[1:]...)},
		{"partial entry", area, append(bytes.Clone(entry), 0)},
		{"blob longer than area", area[:99], entry},
		{"blob shorter than area", append(bytes.Clone(area), 1), entry},
	}
	for _, c := range crafted {
		t.Run(c.name, func(t *testing.T) {
			_, err := readHeader(t, sealedPack(key, c.area, c.header), key)
			wantInvalid(t, c.name, err)
		})
	}
	t.Run("crafted valid", func(t *testing.T) {
		got, err := readHeader(t, sealedPack(key, area, entry), key)
		if err != nil || len(got) != 1 {
			t.Fatalf("control case: got %v, %v", got, err)
		}
	})
}

// errReader fails every read.
type errReader struct{ err error }

func (r errReader) ReadAt([]byte, int64) (int, error) { return 0, r.err }

func TestReadHeaderReadErrors(t *testing.T) {
	key := fixedKey(t)
	data, _ := buildPack(t, key, makeBlobs(rand.New(rand.NewPCG(4, 4)), []spec{{blob.Data, 10, false}}))

	boom := errors.New("boom")
	_, err := pack.ReadHeader(t.Context(), errReader{boom}, int64(len(data)), key)
	if !errors.Is(err, boom) || errors.Is(err, pack.ErrInvalid) {
		t.Errorf("failing reader: err = %v, want boom and not ErrInvalid", err)
	}

	_, err = pack.ReadHeader(t.Context(), bytes.NewReader(data), int64(len(data))+10, key)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("size beyond the data: err = %v, want io.ErrUnexpectedEOF", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = pack.ReadHeader(ctx, bytes.NewReader(data), int64(len(data)), key)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestParseHeader(t *testing.T) {
	ida, idb := id.Hash([]byte("a")), id.Hash([]byte("b"))
	le := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	valid := []struct {
		name  string
		plain []byte
		want  []blob.Blob
	}{
		{"empty", nil, nil},
		{"all four types", cat(
			[]byte{0}, le(40), ida[:],
			[]byte{1}, le(50), idb[:],
			[]byte{2}, le(60), le(600), ida[:],
			[]byte{3}, le(32), le(1), idb[:],
		), []blob.Blob{
			{Handle: blob.Handle{ID: ida, Type: blob.Data}, Offset: 0, Length: 40},
			{Handle: blob.Handle{ID: idb, Type: blob.Tree}, Offset: 40, Length: 50},
			{Handle: blob.Handle{ID: ida, Type: blob.Data}, Offset: 90, Length: 60, UncompressedLength: 600},
			{Handle: blob.Handle{ID: idb, Type: blob.Tree}, Offset: 150, Length: 32, UncompressedLength: 1},
		}},
		{"ends at 4 GiB", cat([]byte{0}, le(math.MaxUint32-32), ida[:], []byte{0}, le(32), ida[:]), []blob.Blob{
			{Handle: blob.Handle{ID: ida, Type: blob.Data}, Length: math.MaxUint32 - 32},
			{Handle: blob.Handle{ID: ida, Type: blob.Data}, Offset: math.MaxUint32 - 32, Length: 32},
		}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pack.ParseHeader(tt.plain)
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseHeader (-want +got):\n%s", diff)
			}
			if enc := pack.AppendHeader(nil, got); !bytes.Equal(enc, tt.plain) {
				t.Errorf("re-encoding gives %x, want %x", enc, tt.plain)
			}
		})
	}

	invalid := []struct {
		name  string
		plain []byte
	}{
		{"unknown type 4", cat([]byte{4}, le(40), ida[:])},
		{"unknown type 255", cat([]byte{0}, le(40), ida[:], []byte{255}, le(40), ida[:])},
		{"partial entry", cat([]byte{0}, le(40), ida[:31])},
		{"partial compressed entry", cat([]byte{2}, le(40), le(5), ida[:])[:40]},
		{"trailing byte", cat([]byte{0}, le(40), ida[:], []byte{0})},
		{"length below overhead", cat([]byte{1}, le(31), ida[:])},
		{"compressed with zero plaintext length", cat([]byte{3}, le(40), le(0), ida[:])},
		{"offset overflow", cat([]byte{0}, le(math.MaxUint32), ida[:], []byte{0}, le(32), ida[:])},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pack.ParseHeader(tt.plain)
			if err == nil {
				t.Fatalf("ParseHeader = %v, want an error", got)
			}
			wantInvalid(t, tt.name, err)
		})
	}
}
