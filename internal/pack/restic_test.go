package pack_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/pack"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// TestResticPacks lets the restic binary write a repository, then lists
// every pack with ReadHeader and checks the result against `restic list
// blobs` and against the blobs' contents. It is skipped without restic,
// unless CI=true.
func TestResticPacks(t *testing.T) {
	exe := testservers.Restic(t)
	for _, version := range []string{"1", "2"} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			testResticPacks(t, exe, version)
		})
	}
}

func testResticPacks(t *testing.T, exe, version string) {
	tmp := t.TempDir()
	repo, src := filepath.Join(tmp, "repo"), filepath.Join(tmp, "src")
	writeSourceTree(t, src)

	restic := func(args ...string) []byte {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), exe, args...)
		cmd.Env = append(os.Environ(),
			"RESTIC_REPOSITORY="+repo,
			"RESTIC_PASSWORD=cairn-test",
			"RESTIC_CACHE_DIR="+filepath.Join(tmp, "cache"),
		)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return out
	}
	restic("init", "--repository-version", version)
	restic("backup", "--quiet", src)

	var key crypto.Key
	if err := json.Unmarshal(restic("cat", "masterkey"), &key); err != nil {
		t.Fatalf("decode master key: %v", err)
	}

	want := map[blob.Handle]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(restic("list", "blobs"))), "\n") {
		typ, hex, ok := strings.Cut(line, " ")
		bid, err := id.Parse(hex)
		if !ok || err != nil {
			t.Fatalf("cannot parse `restic list blobs` line %q", line)
		}
		h := blob.Handle{ID: bid, Type: blob.Data}
		if typ == "tree" {
			h.Type = blob.Tree
		}
		want[h] = true
	}

	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()

	files, err := filepath.Glob(filepath.Join(repo, "data", "*", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no pack files found (%v)", err)
	}
	got := map[blob.Handle]bool{}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		blobs, err := pack.ReadHeader(t.Context(), bytes.NewReader(data), int64(len(data)), &key)
		if err != nil {
			t.Fatalf("ReadHeader(%s): %v", filepath.Base(name), err)
		}
		for _, b := range blobs {
			got[b.Handle] = true
			if b.IsCompressed() != (version == "2") {
				t.Errorf("%v: compressed = %v in a v%s repository", b.Handle, b.IsCompressed(), version)
			}
			plain, err := key.Open(nil, data[b.Offset:b.Offset+b.Length])
			if err != nil {
				t.Fatalf("%v: decrypt: %v", b.Handle, err)
			}
			if b.IsCompressed() {
				if plain, err = dec.DecodeAll(plain, nil); err != nil {
					t.Fatalf("%v: decompress: %v", b.Handle, err)
				}
				if len(plain) != int(b.UncompressedLength) {
					t.Errorf("%v: %d bytes after decompression, header says %d", b.Handle, len(plain), b.UncompressedLength)
				}
			}
			if id.Hash(plain) != b.ID {
				t.Errorf("%v: plaintext does not hash to its ID", b.Handle)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("blobs in pack headers differ from `restic list blobs` (-list +headers):\n%s", diff)
	}
	t.Logf("v%s: %d packs, %d blobs", version, len(files), len(got))
}

// writeSourceTree creates a few directories (several tree blobs), small
// files (enough for a header beyond the eager read) and one random 3 MB
// file (several data blobs).
func writeSourceTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{
		"a.txt":           []byte("hello restic\n"),
		"sub/b.txt":       bytes.Repeat([]byte("compressible "), 1000),
		"sub/deeper/c":    []byte{0, 1, 2, 3},
		"sub/deeper/big":  big,
		"other/empty.txt": nil,
	}
	for i := range 30 { // more blobs than ReadHeader's first read covers
		files["many/f"+strconv.Itoa(i)] = []byte(strings.Repeat("x", i+1))
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
