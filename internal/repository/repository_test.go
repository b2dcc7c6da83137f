package repository_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
	"github.com/restic/chunker"
)

// testPol is an irreducible polynomial of degree 53 (restic's test polynomial).
const testPol = chunker.Pol(0x3DA3358B4DC173)

// cheapParams returns scrypt parameters that keep key derivation at about a
// millisecond.
func cheapParams(t testing.TB) *repository.KeyParams {
	t.Helper()
	kp, err := repository.FixedKeyParams(1024, 8, 1)
	if err != nil {
		t.Fatalf("FixedKeyParams(1024, 8, 1) = %v, want nil", err)
	}
	return kp
}

func initRepo(t testing.TB, be backend.Backend, version uint, password string) *repository.Repository {
	t.Helper()
	o := repository.InitOptions{Version: version, Poly: testPol, Username: "user", Hostname: "host", Params: cheapParams(t)}
	r, err := repository.Init(t.Context(), be, password, o, repository.Options{})
	if err != nil {
		t.Fatalf("Init(v%d) = %v, want nil", version, err)
	}
	return r
}

// snapshot returns the SHA-256 of every file in be, by handle, so that two
// calls can be compared to prove nothing was written or removed.
func snapshot(t testing.TB, be backend.Backend) map[backend.Handle]id.ID {
	t.Helper()
	ctx := t.Context()
	files := make(map[backend.Handle]id.ID)
	for _, ft := range backend.AllTypes {
		err := be.List(ctx, ft, func(fi backend.FileInfo) error {
			h := backend.Handle{Type: ft, Name: fi.Name}
			raw, err := backend.LoadAll(ctx, be, h)
			if err != nil {
				return err
			}
			files[h] = id.Hash(raw)
			return nil
		})
		if err != nil {
			t.Fatalf("List(%v) = %v, want nil", ft, err)
		}
	}
	return files
}

func keyJSON(t testing.TB, k *crypto.Key) string {
	t.Helper()
	js, err := json.Marshal(k)
	if err != nil {
		t.Fatalf("json.Marshal(key) = %v, want nil", err)
	}
	return string(js)
}

func save(t testing.TB, be backend.Backend, h backend.Handle, raw []byte) {
	t.Helper()
	if err := be.Save(t.Context(), h, backend.NewByteReader(raw)); err != nil {
		t.Fatalf("Save(%v) = %v, want nil", h, err)
	}
}

// saveHashed stores raw under its SHA-256, as every file but config is.
func saveHashed(t testing.TB, be backend.Backend, ft backend.FileType, raw []byte) id.ID {
	t.Helper()
	fid := id.Hash(raw)
	save(t, be, backend.Handle{Type: ft, Name: fid.String()}, raw)
	return fid
}

func TestInitOpen(t *testing.T) {
	for _, version := range []uint{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			be := mem.New()
			r := initRepo(t, be, version, "secret")
			if got := r.Config().Version; got != version {
				t.Errorf("Init(v%d).Config().Version = %d, want %d", version, got, version)
			}
			if got := r.Config().ChunkerPolynomial; got != testPol {
				t.Errorf("Init(v%d).Config().ChunkerPolynomial = %v, want %v", version, got, testPol)
			}
			before := snapshot(t, be)

			o, err := repository.Open(t.Context(), be, "secret", repository.Options{})
			if err != nil {
				t.Fatalf("Open() = %v, want nil", err)
			}
			if diff := cmp.Diff(r.Config(), o.Config()); diff != "" {
				t.Errorf("Open().Config() differs from Init (-init +open):\n%s", diff)
			}
			if o.KeyID() != r.KeyID() {
				t.Errorf("Open().KeyID() = %v, want %v", o.KeyID(), r.KeyID())
			}
			if got, want := keyJSON(t, o.Key()), keyJSON(t, r.Key()); got != want {
				t.Errorf("Open().Key() = %s, want %s", got, want)
			}
			if diff := cmp.Diff(before, snapshot(t, be)); diff != "" {
				t.Errorf("Open() changed the backend (-before +after):\n%s", diff)
			}
			js, err := o.LoadConfigJSON(t.Context())
			if err != nil {
				t.Fatalf("LoadConfigJSON() = %v, want nil", err)
			}
			cfg, err := repository.ParseConfig(js)
			if err != nil {
				t.Fatalf("ParseConfig(%s) = %v, want nil", js, err)
			}
			if diff := cmp.Diff(r.Config(), cfg); diff != "" {
				t.Errorf("ParseConfig(LoadConfigJSON()) differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenWrongPassword(t *testing.T) {
	be := mem.New()
	initRepo(t, be, 2, "secret")
	before := snapshot(t, be)

	_, err := repository.Open(t.Context(), be, "wrong", repository.Options{})
	if !errors.Is(err, repository.ErrNoKeyFound) {
		t.Errorf("Open(wrong password) = %v, want ErrNoKeyFound", err)
	}
	if diff := cmp.Diff(before, snapshot(t, be)); diff != "" {
		t.Errorf("Open(wrong password) changed the backend (-before +after):\n%s", diff)
	}
}

func TestOpenEmpty(t *testing.T) {
	be := mem.New()
	_, err := repository.Open(t.Context(), be, "secret", repository.Options{})
	if !errors.Is(err, repository.ErrNotExist) {
		t.Errorf("Open(empty backend) = %v, want ErrNotExist", err)
	}
	if got := snapshot(t, be); len(got) != 0 {
		t.Errorf("Open(empty backend) wrote %v, want nothing", got)
	}
}

func TestInitRefusesExisting(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, be backend.Backend)
	}{
		{"config exists", func(t *testing.T, be backend.Backend) {
			initRepo(t, be, 2, "secret")
		}},
		{"key file without config", func(t *testing.T, be backend.Backend) {
			master, err := crypto.NewRandomKey()
			if err != nil {
				t.Fatalf("NewRandomKey() = %v, want nil", err)
			}
			if _, err := repository.AddKey(t.Context(), be, "secret", "u", "h", master, cheapParams(t)); err != nil {
				t.Fatalf("AddKey() = %v, want nil", err)
			}
		}},
		{"snapshot without config", func(t *testing.T, be backend.Backend) {
			saveHashed(t, be, backend.SnapshotFile, []byte("snapshot"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := mem.New()
			tt.setup(t, be)
			before := snapshot(t, be)
			o := repository.InitOptions{Version: 2, Params: cheapParams(t)}
			_, err := repository.Init(t.Context(), be, "other", o, repository.Options{})
			if !errors.Is(err, repository.ErrAlreadyInitialized) {
				t.Errorf("Init() = %v, want ErrAlreadyInitialized", err)
			}
			if diff := cmp.Diff(before, snapshot(t, be)); diff != "" {
				t.Errorf("refused Init() changed the backend (-before +after):\n%s", diff)
			}
		})
	}
}

func TestAddKey(t *testing.T) {
	be := mem.New()
	r := initRepo(t, be, 2, "first")
	kid, err := repository.AddKey(t.Context(), be, "second", "u", "h", r.Key(), cheapParams(t))
	if err != nil {
		t.Fatalf("AddKey() = %v, want nil", err)
	}
	if kid == r.KeyID() {
		t.Fatalf("AddKey() = %v, the ID of the first key", kid)
	}
	for _, tt := range []struct {
		password string
		wantKey  id.ID
	}{
		{"first", r.KeyID()},
		{"second", kid},
	} {
		o, err := repository.Open(t.Context(), be, tt.password, repository.Options{})
		if err != nil {
			t.Fatalf("Open(%q) = %v, want nil", tt.password, err)
		}
		if o.KeyID() != tt.wantKey {
			t.Errorf("Open(%q).KeyID() = %v, want %v", tt.password, o.KeyID().Str(), tt.wantKey.Str())
		}
		if got, want := keyJSON(t, o.Key()), keyJSON(t, r.Key()); got != want {
			t.Errorf("Open(%q).Key() = %s, want the master key %s", tt.password, got, want)
		}
	}

	kf, err := repository.LoadKeyFile(t.Context(), be, kid)
	if err != nil {
		t.Fatalf("LoadKeyFile(%v) = %v, want nil", kid.Str(), err)
	}
	if kf.KDF != "scrypt" || kf.N != 1024 || kf.R != 8 || kf.P != 1 || kf.Username != "u" || kf.Hostname != "h" {
		t.Errorf("LoadKeyFile() = kdf %q N=%d r=%d p=%d user %q host %q, want scrypt 1024/8/1 u h",
			kf.KDF, kf.N, kf.R, kf.P, kf.Username, kf.Hostname)
	}
}

func TestKeyHint(t *testing.T) {
	be := mem.New()
	r := initRepo(t, be, 2, "secret")
	// A second key file for the same password: without a hint either may open.
	second, err := repository.AddKey(t.Context(), be, "secret", "u", "h", r.Key(), cheapParams(t))
	if err != nil {
		t.Fatalf("AddKey() = %v, want nil", err)
	}
	for _, want := range []id.ID{r.KeyID(), second} {
		// List the hinted key last, so only the hint can make it win.
		be := &lastBackend{Backend: be, last: want.String()}
		for _, hint := range []string{want.String(), want.Str()} {
			t.Run(hint, func(t *testing.T) {
				_, got, err := repository.SearchKey(t.Context(), be, "secret", hint)
				if err != nil {
					t.Fatalf("SearchKey(hint %s) = %v, want nil", hint, err)
				}
				if got != want {
					t.Errorf("SearchKey(hint %s) = key %v, want %v", hint, got.Str(), want.Str())
				}
				o, err := repository.Open(t.Context(), be, "secret", repository.Options{KeyHint: hint})
				if err != nil {
					t.Fatalf("Open(KeyHint %s) = %v, want nil", hint, err)
				}
				if o.KeyID() != want {
					t.Errorf("Open(KeyHint %s).KeyID() = %v, want %v", hint, o.KeyID().Str(), want.Str())
				}
			})
		}
	}
}

// lastBackend lists files in name order, except that the file named last
// comes after all others, so a test decides which key SearchKey tries last.
type lastBackend struct {
	backend.Backend
	last string
}

func (b *lastBackend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	var infos []backend.FileInfo
	err := b.Backend.List(ctx, t, func(fi backend.FileInfo) error {
		infos = append(infos, fi)
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(infos, func(x, y backend.FileInfo) int {
		switch {
		case x.Name == b.last:
			return 1
		case y.Name == b.last:
			return -1
		}
		return strings.Compare(x.Name, y.Name)
	})
	for _, fi := range infos {
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}

func (b *lastBackend) Unwrap() backend.Backend { return b.Backend }

// TestSearchKeyMaxKeys checks that a password is tried against at most 20
// key files, as restic's maxKeys does; a key beyond that is reached only
// through the hint.
func TestSearchKeyMaxKeys(t *testing.T) {
	kp, err := repository.FixedKeyParams(16, 1, 1) // many derivations: keep each trivial
	if err != nil {
		t.Fatalf("FixedKeyParams(16, 1, 1) = %v, want nil", err)
	}
	master, err := crypto.NewRandomKey()
	if err != nil {
		t.Fatalf("NewRandomKey() = %v, want nil", err)
	}
	tests := []struct {
		others int // keys for another password, listed before the target
		hint   bool
		want   bool
	}{
		{others: 19, want: true}, // target is the 20th key tried
		{others: 20, want: false},
		{others: 20, hint: true, want: true},
		{others: 25, want: false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("others=%d,hint=%v", tt.others, tt.hint), func(t *testing.T) {
			mb := mem.New()
			for i := range tt.others {
				if _, err := repository.AddKey(t.Context(), mb, "other", "u", fmt.Sprint(i), master, kp); err != nil {
					t.Fatalf("AddKey(other %d) = %v, want nil", i, err)
				}
			}
			target, err := repository.AddKey(t.Context(), mb, "target", "u", "h", master, kp)
			if err != nil {
				t.Fatalf("AddKey(target) = %v, want nil", err)
			}
			be := &lastBackend{Backend: mb, last: target.String()}
			hint := ""
			if tt.hint {
				hint = target.Str()
			}
			_, got, err := repository.SearchKey(t.Context(), be, "target", hint)
			switch {
			case tt.want && err != nil:
				t.Errorf("SearchKey() = %v, want key %v", err, target.Str())
			case tt.want && got != target:
				t.Errorf("SearchKey() = key %v, want %v", got.Str(), target.Str())
			case !tt.want && !errors.Is(err, repository.ErrNoKeyFound):
				t.Errorf("SearchKey() = (%v, %v), want ErrNoKeyFound", got.Str(), err)
			}
		})
	}
}

func TestSaveLoadUnpacked(t *testing.T) {
	doc := []byte(`{"packs":[],"note":"` + strings.Repeat("abc", 100) + `"}`)
	for _, version := range []uint{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			be := mem.New()
			r := initRepo(t, be, version, "secret")
			fid, err := r.SaveUnpacked(t.Context(), backend.SnapshotFile, doc)
			if err != nil {
				t.Fatalf("SaveUnpacked() = %v, want nil", err)
			}
			got, err := r.LoadUnpacked(t.Context(), backend.SnapshotFile, fid)
			if err != nil {
				t.Fatalf("LoadUnpacked() = %v, want nil", err)
			}
			if !bytes.Equal(got, doc) {
				t.Errorf("LoadUnpacked() = %q, want %q", got, doc)
			}

			raw, err := backend.LoadAll(t.Context(), be, backend.Handle{Type: backend.SnapshotFile, Name: fid.String()})
			if err != nil {
				t.Fatalf("LoadAll() = %v, want nil", err)
			}
			if id.Hash(raw) != fid {
				t.Errorf("stored file hashes to %v, want its name %v", id.Hash(raw).Str(), fid.Str())
			}
			plain, err := r.Key().Open(nil, raw)
			if err != nil {
				t.Fatalf("Key().Open(stored) = %v, want nil", err)
			}
			if version == 1 {
				if !bytes.Equal(plain, doc) {
					t.Errorf("v1 stored plaintext = %q, want the raw JSON %q", plain, doc)
				}
				return
			}
			if len(plain) == 0 || plain[0] != 0x02 {
				t.Fatalf("v2 stored plaintext starts with %q, want 0x02", plain[:min(1, len(plain))])
			}
			dec, err := zstd.NewReader(nil)
			if err != nil {
				t.Fatalf("zstd.NewReader() = %v, want nil", err)
			}
			defer dec.Close()
			js, err := dec.DecodeAll(plain[1:], nil)
			if err != nil {
				t.Fatalf("zstd DecodeAll(stored plaintext) = %v, want nil", err)
			}
			if !bytes.Equal(js, doc) {
				t.Errorf("v2 stored plaintext decompresses to %q, want %q", js, doc)
			}
		})
	}
}

func TestLoadUnpackedRejects(t *testing.T) {
	doc := []byte(`{"ok":true}`)
	tests := []struct {
		name    string
		version uint
		// store writes a file and returns the ID to load it by.
		store func(t *testing.T, r *repository.Repository) id.ID
		want  error
	}{
		{"content does not hash to name", 2, func(t *testing.T, r *repository.Repository) id.ID {
			raw := r.Key().Seal(nil, doc)
			name := id.Hash([]byte("something else"))
			save(t, r.Backend(), backend.Handle{Type: backend.IndexFile, Name: name.String()}, raw)
			return name
		}, repository.ErrInvalidData},
		{"flipped byte v1", 1, func(t *testing.T, r *repository.Repository) id.ID {
			raw := r.Key().Seal(nil, doc)
			raw[20] ^= 1
			return saveHashed(t, r.Backend(), backend.IndexFile, raw)
		}, repository.ErrInvalidData},
		{"flipped byte v2", 2, func(t *testing.T, r *repository.Repository) id.ID {
			raw := r.Key().Seal(nil, append([]byte{2}, doc...))
			raw[len(raw)-1] ^= 0x80
			return saveHashed(t, r.Backend(), backend.IndexFile, raw)
		}, repository.ErrInvalidData},
		{"foreign key", 2, func(t *testing.T, r *repository.Repository) id.ID {
			other, err := crypto.NewRandomKey()
			if err != nil {
				t.Fatalf("NewRandomKey() = %v, want nil", err)
			}
			return saveHashed(t, r.Backend(), backend.IndexFile, other.Seal(nil, doc))
		}, repository.ErrInvalidData},
		{"shorter than overhead", 2, func(t *testing.T, r *repository.Repository) id.ID {
			return saveHashed(t, r.Backend(), backend.IndexFile, []byte("short"))
		}, repository.ErrInvalidData},
		{"unsupported encoding 0x05", 2, func(t *testing.T, r *repository.Repository) id.ID {
			return saveHashed(t, r.Backend(), backend.IndexFile, r.Key().Seal(nil, append([]byte{5}, doc...)))
		}, repository.ErrInvalidData},
		{"unsupported encoding 0x00", 2, func(t *testing.T, r *repository.Repository) id.ID {
			return saveHashed(t, r.Backend(), backend.IndexFile, r.Key().Seal(nil, []byte{0}))
		}, repository.ErrInvalidData},
		{"0x02 without a zstd frame", 2, func(t *testing.T, r *repository.Repository) id.ID {
			return saveHashed(t, r.Backend(), backend.IndexFile, r.Key().Seal(nil, append([]byte{2}, doc...)))
		}, repository.ErrInvalidData},
		{"missing", 2, func(t *testing.T, r *repository.Repository) id.ID {
			return id.Hash([]byte("nothing stored"))
		}, backend.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := initRepo(t, mem.New(), tt.version, "secret")
			fid := tt.store(t, r)
			got, err := r.LoadUnpacked(t.Context(), backend.IndexFile, fid)
			if !errors.Is(err, tt.want) {
				t.Errorf("LoadUnpacked() = (%q, %v), want %v", got, err, tt.want)
			}
		})
	}
}

// TestLoadUnpackedRaw checks that v2 reads plaintext starting with '{' or
// '[' as uncompressed JSON (files written before compression), and that v1
// never interprets the first byte.
func TestLoadUnpackedRaw(t *testing.T) {
	tests := []struct {
		version uint
		plain   string
	}{
		{2, `{"packs":[]}`},
		{2, `[1,2,3]`},
		{2, ``},
		{1, `{"packs":[]}`},
		{1, "\x02not zstd"},
		{1, "\x05"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("v%d/%q", tt.version, tt.plain), func(t *testing.T) {
			r := initRepo(t, mem.New(), tt.version, "secret")
			fid := saveHashed(t, r.Backend(), backend.SnapshotFile, r.Key().Seal(nil, []byte(tt.plain)))
			got, err := r.LoadUnpacked(t.Context(), backend.SnapshotFile, fid)
			if err != nil {
				t.Fatalf("LoadUnpacked() = %v, want nil", err)
			}
			if string(got) != tt.plain {
				t.Errorf("LoadUnpacked() = %q, want %q", got, tt.plain)
			}
		})
	}
}

func TestFind(t *testing.T) {
	be := mem.New()
	names := []string{
		"aaaa1" + strings.Repeat("0", 59),
		"aaaa2" + strings.Repeat("0", 59),
		"bbbb" + strings.Repeat("1", 60),
	}
	for _, n := range names {
		save(t, be, backend.Handle{Type: backend.SnapshotFile, Name: n}, []byte(n))
	}
	// A file of another type must not make a snapshot prefix ambiguous.
	save(t, be, backend.Handle{Type: backend.IndexFile, Name: "bbbb" + strings.Repeat("2", 60)}, []byte("x"))

	tests := []struct {
		prefix       string
		want         string // empty: an error
		wantNotExist bool
	}{
		{prefix: names[0], want: names[0]},
		{prefix: "aaaa1", want: names[0]},
		{prefix: "aaaa2", want: names[1]},
		{prefix: "b", want: names[2]},
		{prefix: "aaaa"},
		{prefix: ""},
		{prefix: "c", wantNotExist: true},
		{prefix: "aaaa3", wantNotExist: true},
		{prefix: names[2] + "0", wantNotExist: true},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			got, err := repository.Find(t.Context(), be, backend.SnapshotFile, tt.prefix)
			if tt.want != "" {
				if err != nil || got.String() != tt.want {
					t.Errorf("Find(%q) = (%v, %v), want %s", tt.prefix, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Find(%q) = %v, want an error", tt.prefix, got)
			}
			if errors.Is(err, backend.ErrNotExist) != tt.wantNotExist {
				t.Errorf("Find(%q) = %v; errors.Is(ErrNotExist) = %v, want %v", tt.prefix, err, !tt.wantNotExist, tt.wantNotExist)
			}
		})
	}
}

// testBlob is one blob to put into a hand-built pack.
type testBlob struct {
	typ      blob.Type
	plain    []byte
	compress bool // v2 only: store the zstd frame
	damage   bool // flip a ciphertext byte after sealing
}

func (b testBlob) handle() blob.Handle { return blob.Handle{ID: id.Hash(b.plain), Type: b.typ} }

// savePack concatenates the sealed blobs (no header: LoadBlob goes by the
// index alone), stores the pack under its hash and returns its index entry.
func savePack(t *testing.T, r *repository.Repository, blobs ...testBlob) index.Pack {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatalf("zstd.NewWriter() = %v, want nil", err)
	}
	defer enc.Close()
	var pack []byte
	var entries []blob.Blob
	for _, b := range blobs {
		plain := b.plain
		if b.compress {
			plain = enc.EncodeAll(b.plain, nil)
		}
		sealed := r.Key().Seal(nil, plain)
		if b.damage {
			sealed[len(sealed)/2] ^= 1
		}
		e := blob.Blob{Handle: blob.Handle{ID: id.Hash(b.plain), Type: b.typ}, Offset: uint32(len(pack)), Length: uint32(len(sealed))}
		if b.compress {
			e.UncompressedLength = uint32(len(b.plain))
		}
		entries = append(entries, e)
		pack = append(pack, sealed...)
	}
	return index.Pack{ID: saveHashed(t, r.Backend(), backend.PackFile, pack), Blobs: entries}
}

func saveIndex(t *testing.T, r *repository.Repository, packs ...index.Pack) {
	t.Helper()
	doc, err := json.Marshal(index.File{Packs: packs})
	if err != nil {
		t.Fatalf("json.Marshal(index) = %v, want nil", err)
	}
	if _, err := r.SaveUnpacked(t.Context(), backend.IndexFile, doc); err != nil {
		t.Fatalf("SaveUnpacked(index) = %v, want nil", err)
	}
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return b
}

func TestLoadIndexLoadBlob(t *testing.T) {
	for _, version := range []uint{1, 2} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			r := initRepo(t, mem.New(), version, "secret")
			blobs := []testBlob{
				{typ: blob.Data, plain: []byte("hello, world")},
				{typ: blob.Data, plain: randomBytes(t, 3000)},
				{typ: blob.Data, plain: nil},
				{typ: blob.Tree, plain: []byte(`{"nodes":[]}`)},
			}
			if version >= 2 {
				blobs = append(blobs,
					testBlob{typ: blob.Data, plain: bytes.Repeat([]byte("compress me "), 500), compress: true},
					testBlob{typ: blob.Tree, plain: []byte(`{"nodes":[{"name":"a"}]}`), compress: true},
				)
			}
			// Split over two packs and two index files.
			saveIndex(t, r, savePack(t, r, blobs[:2]...))
			saveIndex(t, r, savePack(t, r, blobs[2:]...))

			idx, err := r.LoadIndex(t.Context())
			if err != nil {
				t.Fatalf("LoadIndex() = %v, want nil", err)
			}
			if idx.Len() != len(blobs) {
				t.Errorf("LoadIndex().Len() = %d, want %d", idx.Len(), len(blobs))
			}
			for _, b := range blobs {
				got, err := r.LoadBlob(t.Context(), b.handle())
				if err != nil {
					t.Errorf("LoadBlob(%v) = %v, want nil", b.handle(), err)
					continue
				}
				if !bytes.Equal(got, b.plain) {
					t.Errorf("LoadBlob(%v) = %d bytes %.20q, want %d bytes %.20q", b.handle(), len(got), got, len(b.plain), b.plain)
				}
			}
			missing := blob.Handle{ID: id.Hash([]byte("not stored")), Type: blob.Data}
			if _, err := r.LoadBlob(t.Context(), missing); err == nil {
				t.Errorf("LoadBlob(%v) = nil error, want not found", missing)
			}
			// The same ID as another type is another blob.
			wrongType := blob.Handle{ID: blobs[0].handle().ID, Type: blob.Tree}
			if _, err := r.LoadBlob(t.Context(), wrongType); err == nil {
				t.Errorf("LoadBlob(%v) = nil error, want not found", wrongType)
			}
		})
	}
}

func TestLoadBlobRejects(t *testing.T) {
	plain := []byte("some blob content")
	h := blob.Handle{ID: id.Hash(plain), Type: blob.Data}
	tests := []struct {
		name string
		pack func(t *testing.T, r *repository.Repository) index.Pack
		want error
	}{
		{"damaged", func(t *testing.T, r *repository.Repository) index.Pack {
			return savePack(t, r, testBlob{typ: blob.Data, plain: plain, damage: true})
		}, repository.ErrInvalidData},
		{"damaged compressed", func(t *testing.T, r *repository.Repository) index.Pack {
			return savePack(t, r, testBlob{typ: blob.Data, plain: plain, compress: true, damage: true})
		}, repository.ErrInvalidData},
		{"content does not match ID", func(t *testing.T, r *repository.Repository) index.Pack {
			p := savePack(t, r, testBlob{typ: blob.Data, plain: []byte("other content")})
			p.Blobs[0].ID = h.ID
			return p
		}, repository.ErrInvalidData},
		{"compressed flag on an uncompressed blob", func(t *testing.T, r *repository.Repository) index.Pack {
			p := savePack(t, r, testBlob{typ: blob.Data, plain: plain})
			p.Blobs[0].UncompressedLength = uint32(len(plain))
			return p
		}, repository.ErrInvalidData},
		{"wrong uncompressed length", func(t *testing.T, r *repository.Repository) index.Pack {
			p := savePack(t, r, testBlob{typ: blob.Data, plain: plain, compress: true})
			p.Blobs[0].UncompressedLength++
			return p
		}, repository.ErrInvalidData},
		{"pack missing", func(t *testing.T, r *repository.Repository) index.Pack {
			p := savePack(t, r, testBlob{typ: blob.Data, plain: plain})
			if err := r.Backend().Remove(t.Context(), backend.Handle{Type: backend.PackFile, Name: p.ID.String()}); err != nil {
				t.Fatalf("Remove(pack) = %v, want nil", err)
			}
			return p
		}, backend.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := initRepo(t, mem.New(), 2, "secret")
			saveIndex(t, r, tt.pack(t, r))
			_, err := r.LoadIndex(t.Context())
			if err != nil {
				t.Fatalf("LoadIndex() = %v, want nil", err)
			}
			got, err := r.LoadBlob(t.Context(), h)
			if !errors.Is(err, tt.want) {
				t.Errorf("LoadBlob() = (%q, %v), want %v", got, err, tt.want)
			}
		})
	}
}

// TestLoadBlobDuplicate checks that a damaged copy does not hide a good one.
func TestLoadBlobDuplicate(t *testing.T) {
	plain := []byte("duplicated blob")
	bad := testBlob{typ: blob.Data, plain: plain, damage: true}
	good := testBlob{typ: blob.Data, plain: plain, compress: true}
	h := good.handle()
	for _, tt := range []struct {
		name   string
		copies []testBlob
		want   error
	}{
		{"damaged then good", []testBlob{bad, good}, nil},
		{"good then damaged", []testBlob{good, bad}, nil},
		{"both damaged", []testBlob{bad, bad}, repository.ErrInvalidData},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := initRepo(t, mem.New(), 2, "secret")
			var packs []index.Pack
			for i, b := range tt.copies {
				filler := testBlob{typ: blob.Data, plain: fmt.Appendf(nil, "filler %d", i)}
				packs = append(packs, savePack(t, r, filler, b))
			}
			saveIndex(t, r, packs...)
			idx, err := r.LoadIndex(t.Context())
			if err != nil {
				t.Fatalf("LoadIndex() = %v, want nil", err)
			}
			entries := idx.Lookup(h)
			if len(entries) != len(tt.copies) || entries[0].PackID != packs[0].ID {
				t.Fatalf("Lookup(%v) = %v, want one entry per pack, in index order", h, entries)
			}
			got, err := r.LoadBlob(t.Context(), h)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Errorf("LoadBlob() = (%q, %v), want %v", got, err, tt.want)
				}
				return
			}
			if err != nil || !bytes.Equal(got, plain) {
				t.Errorf("LoadBlob() = (%q, %v), want %q", got, err, plain)
			}
		})
	}
}

func TestLoadIndexRejects(t *testing.T) {
	tests := []struct {
		name    string
		version uint
		store   func(t *testing.T, r *repository.Repository)
	}{
		{"compressed entry in v1", 1, func(t *testing.T, r *repository.Repository) {
			p := savePack(t, r, testBlob{typ: blob.Data, plain: []byte("x")})
			p.Blobs[0].UncompressedLength = 1
			saveIndex(t, r, p)
		}},
		{"not JSON", 2, func(t *testing.T, r *repository.Repository) {
			if _, err := r.SaveUnpacked(t.Context(), backend.IndexFile, []byte("{not json")); err != nil {
				t.Fatalf("SaveUnpacked() = %v, want nil", err)
			}
		}},
		{"damaged index file", 2, func(t *testing.T, r *repository.Repository) {
			raw := r.Key().Seal(nil, []byte(`{"packs":[]}`))
			raw[len(raw)-1] ^= 1
			saveHashed(t, r.Backend(), backend.IndexFile, raw)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := initRepo(t, mem.New(), tt.version, "secret")
			saveIndex(t, r, savePack(t, r, testBlob{typ: blob.Tree, plain: []byte("{}")}))
			tt.store(t, r)
			if _, err := r.LoadIndex(t.Context()); !errors.Is(err, repository.ErrInvalidData) {
				t.Errorf("LoadIndex() = %v, want ErrInvalidData", err)
			}
		})
	}
}
