package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

// dkFixture is a small repository with one snapshot of work/src:
//
//	src/a/big1 big2 big3   random, 3 MiB each, in several data packs
//	src/b/small1 b/deep/x  small files under the tree that case "tree" damages
//	src/c/small2
//
// with where each blob lies, to tell which files a damage must hit.
type dkFixture struct {
	dir, work string
	packs     map[string][]checkIndexBlob // by pack ID
	blobPack  map[string]string           // blob ID to pack ID
	files     map[string][]string         // path under src to its content blob IDs
	treeB     string                      // tree blob of src/b
}

// makeDKFixture builds the fixture with cairn, or with restic (Debian's
// 0.14 on the PATH) when byRestic.
func makeDKFixture(t *testing.T, byRestic bool) *dkFixture {
	t.Helper()
	f := &dkFixture{dir: filepath.Join(t.TempDir(), "repo"), work: t.TempDir()}
	src := filepath.Join(f.work, "src")
	for i := range 3 {
		writeRandom(t, filepath.Join(src, "a", fmt.Sprintf("big%d", i+1)), 3<<20, uint64(70+i))
	}
	writeFile(t, src, "b/small1", "small one\n")
	writeFile(t, src, "b/deep/x", "deep\n")
	writeFile(t, src, "c/small2", "small two\n")
	env := repoEnv(f.dir, "pw")
	if byRestic {
		resticInit(t, env)
		resticIn(t, f.work, env, "backup", "-q", "--pack-size", "4", "src")
	} else {
		cairn(t, env, "init")
		cairnIn(t, f.work, env, "backup", "-q", "--pack-size", "4", "src")
	}
	f.packs, f.blobPack, f.files = map[string][]checkIndexBlob{}, map[string]string{}, map[string][]string{}
	for _, p := range checkIndex(t, f.dir, "pw") {
		f.packs[p.ID] = p.Blobs
		for _, b := range p.Blobs {
			f.blobPack[b.ID] = p.ID
		}
	}
	var root struct {
		Nodes []struct {
			Name, Subtree string
		} `json:"nodes"`
	}
	mustJSON(t, cairn(t, env, "cat", "tree", "latest:/src"), &root)
	for _, n := range root.Nodes {
		if n.Name == "b" {
			f.treeB = n.Subtree
		}
		f.walk(t, env, n.Subtree, n.Name)
	}
	if f.treeB == "" || len(f.files) != 6 {
		t.Fatalf("fixture: tree of src/b %q, files %v", f.treeB, f.files)
	}
	return f
}

// walk records the files of tree tid, at path dir under src.
func (f *dkFixture) walk(t *testing.T, env []string, tid, dir string) {
	t.Helper()
	var tree struct {
		Nodes []struct {
			Name, Type, Subtree string
			Content             []string
		} `json:"nodes"`
	}
	mustJSON(t, cairn(t, env, "cat", "tree", tid), &tree)
	for _, n := range tree.Nodes {
		p := dir + "/" + n.Name
		switch n.Type {
		case "dir":
			f.walk(t, env, n.Subtree, p)
		case "file":
			f.files[p] = n.Content
		}
	}
}

// blob returns where blob bid lies.
func (f *dkFixture) blob(bid string) (pack string, b checkIndexBlob) {
	pack = f.blobPack[bid]
	for _, x := range f.packs[pack] {
		if x.ID == bid {
			return pack, x
		}
	}
	return "", checkIndexBlob{}
}

// treePack is the pack of src/b's tree, with that blob.
func (f *dkFixture) treePack() (string, checkIndexBlob) { return f.blob(f.treeB) }

// dataPack is the data pack with the most blobs (ties: the lowest ID):
// one that several files depend on.
func (f *dkFixture) dataPack(t *testing.T) string {
	t.Helper()
	var ids []string
	for pid, bs := range f.packs {
		if !slices.ContainsFunc(bs, func(b checkIndexBlob) bool { return b.Type != "data" }) {
			ids = append(ids, pid)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := len(f.packs[ids[i]]), len(f.packs[ids[j]])
		return a > b || a == b && ids[i] < ids[j]
	})
	if len(ids) < 2 || len(f.packs[ids[0]]) < 2 {
		t.Fatalf("fixture: want several data packs, one with several blobs: %v", f.packs)
	}
	return ids[0]
}

// filesHit returns the files with a content blob for which lost is true.
func (f *dkFixture) filesHit(lost func(pack string, b checkIndexBlob) bool) map[string]bool {
	out := map[string]bool{}
	for p, content := range f.files {
		for _, bid := range content {
			if pack, b := f.blob(bid); lost(pack, b) {
				out[p] = true
			}
		}
	}
	return out
}

// copy is a copy of the fixture's repository.
func (f *dkFixture) copy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	must(t, os.CopyFS(dir, os.DirFS(f.dir)))
	return dir
}

// restoreAndCompare restores latest and compares every file of the source
// with the restored one: a file in lost must be named in stderr (as
// src/PATH, or by the directory named in lost[PATH]) and may be missing or
// partial; every other one must be restored identically and not be named.
// It returns the restore's result.
func (f *dkFixture) restoreAndCompare(t *testing.T, env []string, lost map[string]string) result {
	t.Helper()
	dst := t.TempDir()
	res := run(t, env, cairnBin, "restore", "latest", "--target", dst)
	for p := range f.files {
		want, err := os.ReadFile(filepath.Join(f.work, "src", p))
		must(t, err)
		got, gerr := os.ReadFile(filepath.Join(dst, "src", p))
		if name, ok := lost[p]; ok {
			if !strings.Contains(res.stderr, name) {
				t.Errorf("restore: damaged %s not named (want %q in stderr):\n%v", p, name, res)
			}
			continue
		}
		if gerr != nil || !bytes.Equal(got, want) {
			t.Errorf("restore: intact %s restored differently (%v) and not named as damaged:\n%v", p, gerr, res)
		}
		if strings.Contains(res.stderr, "src/"+p) {
			t.Errorf("restore: intact %s named as damaged:\n%v", p, res)
		}
	}
	wantCode := 0
	if len(lost) > 0 {
		wantCode = 1
	}
	if res.code != wantCode {
		t.Errorf("restore: exit code %d, want %d\n%v", res.code, wantCode, res)
	}
	return res
}

// named maps each file of hit to its own path under src, as restore
// names it.
func named(hit map[string]bool) map[string]string {
	out := map[string]string{}
	for p := range hit {
		out[p] = "src/" + p
	}
	return out
}

// expect runs name args with env and fails unless it exits code and
// prints every want (stdout or stderr).
func expect(t *testing.T, env []string, code int, name string, args []string, want ...string) result {
	t.Helper()
	res := run(t, env, name, args...)
	if res.code != code {
		t.Errorf("%s %v: exit code %d, want %d\n%v", filepath.Base(name), args, res.code, code, res)
	}
	for _, w := range want {
		if !strings.Contains(res.stdout+res.stderr, w) {
			t.Errorf("%s %v: output lacks %q\n%v", filepath.Base(name), args, w, res)
		}
	}
	return res
}

// bothAccept: cairn and restic check --read-data pass.
func bothAccept(t *testing.T, env []string) {
	t.Helper()
	expect(t, env, 0, cairnBin, []string{"check", "--read-data"}, "no errors were found")
	expect(t, env, 0, resticBin(t), []string{"check", "--read-data"}, "no errors were found")
}

// TestDamagedRepositoryFiles damages copies of a repository made by cairn
// and one made by restic 0.14, one kind of file per case, and follows what
// the checkers, restore and the repair commands make of it (the outcomes,
// and restic 0.19.1's, are tabled in docs/damage.md). Every restore is
// compared file by file with the source: nothing damaged passes as good.
func TestDamagedRepositoryFiles(t *testing.T) {
	t.Parallel()
	for _, maker := range []string{"cairn", "restic"} {
		t.Run(maker, func(t *testing.T) {
			t.Parallel()
			f := makeDKFixture(t, maker == "restic")
			for _, c := range dkCases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					dir := f.copy(t)
					c.run(t, f, dir, repoEnv(dir, "pw"))
				})
			}
		})
	}
}

var dkCases = []struct {
	name string
	run  func(t *testing.T, f *dkFixture, dir string, env []string)
}{
	{"index", dkIndex},
	{"tree pack", dkTreePack},
	{"data pack header", dkPackHeader},
	{"truncated pack", dkTruncatedPack},
	{"missing pack", dkMissingPack},
}

// dkIndex: a flipped byte in the only index file. check names the file;
// restore, which needs the index, fails in one line naming it and the
// repair (restic 0.19.1 names only the file); repair
// index rebuilds it from the packs, and then all is as before.
func dkIndex(t *testing.T, f *dkFixture, dir string, env []string) {
	files := checkFiles(t, dir, "index")
	if len(files) != 1 {
		t.Fatalf("index files %v, want one", files)
	}
	idx := files[0]
	damage(t, filepath.Join(dir, "index", idx), func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })

	expect(t, env, 1, cairnBin, []string{"check"}, "error: index "+idx+": invalid data", "cairn repair index")
	expect(t, env, 1, resticBin(t), []string{"check"}, idx)
	res := expect(t, env, 1, cairnBin, []string{"restore", "latest", "--target", t.TempDir()}, "index/"+idx, "cairn repair index")
	oneLine(t, res, 1, "invalid data")
	expect(t, env, 0, cairnBin, []string{"repair", "index"}, "indexed ")
	if got := checkFiles(t, dir, "index"); slices.Contains(got, idx) {
		t.Errorf("damaged index file still there after repair index: %v", got)
	}
	bothAccept(t, env)
	dst := t.TempDir()
	cairn(t, env, "restore", "latest", "--target", dst)
	compareTrees(t, filepath.Join(f.work, "src"), filepath.Join(dst, "src"))
}

// dkTreePack: a flipped byte inside the tree blob of src/b. check names
// the tree, its pack and the snapshot; restore writes everything else and
// names src/b; repair packs + repair snapshots --forget leave a
// repository both checkers accept, where src/b is empty.
func dkTreePack(t *testing.T, f *dkFixture, dir string, env []string) {
	pid, tb := f.treePack()
	damage(t, checkPackPath(dir, pid), func(b []byte) []byte { b[tb.Offset+tb.Length/2] ^= 0x10; return b })
	snap := snapshotIDs(t, env)[0]

	expect(t, env, 1, cairnBin, []string{"check"}, "tree "+tb.ID[:8], "pack "+pid[:8], "snapshot "+snap[:8], `"/src/b"`)
	expect(t, env, 1, resticBin(t), []string{"check"}, tb.ID[:8])
	lost := map[string]string{"b/small1": "src/b", "b/deep/x": "src/b"}
	res := f.restoreAndCompare(t, env, lost)
	if !strings.Contains(res.stderr, "tree "+tb.ID[:8]) {
		t.Errorf("restore does not name the damaged tree:\n%v", res)
	}

	expect(t, env, 0, cairnBin, []string{"repair", "packs", pid}, "lost 1", "tree/"+tb.ID[:8]+" lost")
	expect(t, env, 0, cairnBin, []string{"repair", "snapshots", "--forget"}, "/src/b", "repaired 1 of 1 snapshots")
	bothAccept(t, env)
	dst := t.TempDir()
	cairn(t, env, "restore", "latest", "--target", dst)
	for p := range f.files {
		got, err := os.ReadFile(filepath.Join(dst, "src", p))
		want, _ := os.ReadFile(filepath.Join(f.work, "src", p))
		switch {
		case lost[p] != "":
			if err == nil {
				t.Errorf("%s restored after its tree was lost", p)
			}
		case !bytes.Equal(got, want):
			t.Errorf("%s differs after repair (%v)", p, err)
		}
	}
}

// dkPackHeader: a flipped byte in the encrypted header of a data pack.
// The blobs are intact, and the index knows where they are: check names
// the pack (plain check reads headers, restic's does not), restore writes
// every file identically; repair index keeps the pack's blobs from the
// old index (restic 0.19.1 keeps the old entries too); repair packs moves
// them to a new pack.
func dkPackHeader(t *testing.T, f *dkFixture, dir string, env []string) {
	pid := f.dataPack(t)
	damage(t, checkPackPath(dir, pid), func(b []byte) []byte { b[len(b)-10] ^= 0x10; return b })

	expect(t, env, 1, cairnBin, []string{"check"}, "pack "+pid+": header")
	expect(t, env, 1, cairnBin, []string{"check", "--read-data"}, "pack "+pid, "cairn repair packs "+pid)
	expect(t, env, 0, resticBin(t), []string{"check"})
	expect(t, env, 1, resticBin(t), []string{"check", "--read-data"}, pid)
	f.restoreAndCompare(t, env, nil)

	expect(t, env, 0, cairnBin, []string{"repair", "index"}, "header unreadable, kept the "+fmt.Sprint(len(f.packs[pid]))+" blobs")
	f.restoreAndCompare(t, env, nil)
	expect(t, env, 0, cairnBin, []string{"repair", "packs", pid}, fmt.Sprintf("salvaged %d blobs, lost 0", len(f.packs[pid])))
	expect(t, env, 0, cairnBin, []string{"repair", "snapshots", "--forget"}, "repaired 0 of 1 snapshots")
	bothAccept(t, env)
	f.restoreAndCompare(t, env, nil)
}

// dkTruncatedPack: a data pack cut in half. check names it; restore
// writes every file whose blobs lie before the cut (read blob by blob)
// and names the others; repair index keeps the blobs before the cut,
// repair packs salvages them, repair snapshots --forget drops the rest.
func dkTruncatedPack(t *testing.T, f *dkFixture, dir string, env []string) {
	pid := f.dataPack(t)
	size := size(t, checkPackPath(dir, pid))
	cut := size / 2
	damage(t, checkPackPath(dir, pid), func(b []byte) []byte { return b[:cut] })
	hit := f.filesHit(func(pack string, b checkIndexBlob) bool { return pack == pid && b.Offset+b.Length > cut })
	if len(hit) == 0 {
		t.Fatalf("no file depends on the second half of pack %s", pid[:8])
	}
	kept := 0
	for _, b := range f.packs[pid] {
		if b.Offset+b.Length <= cut {
			kept++
		}
	}
	t.Logf("pack %s cut at %d of %d: %d of %d blobs intact, files hit %v", pid[:8], cut, size, kept, len(f.packs[pid]), hit)

	expect(t, env, 1, cairnBin, []string{"check"}, "pack "+pid+": file size is")
	expect(t, env, 1, resticBin(t), []string{"check"}, pid)
	f.restoreAndCompare(t, env, named(hit))

	res := expect(t, env, 0, cairnBin, []string{"repair", "index"})
	if kept > 0 && !strings.Contains(res.stderr, fmt.Sprintf("kept the %d blobs", kept)) {
		t.Errorf("repair index: want %d blobs of the cut pack kept\n%v", kept, res)
	}
	f.restoreAndCompare(t, env, named(hit))
	expect(t, env, 0, cairnBin, []string{"repair", "packs", pid}, fmt.Sprintf("salvaged %d blobs", kept))
	expect(t, env, 0, cairnBin, []string{"repair", "snapshots", "--forget"}, "repaired 1 of 1 snapshots")
	bothAccept(t, env)
	f.restoreAfterForget(t, env, hit)
}

// dkMissingPack: a data pack deleted. check names it and the files that
// need it; restore names them; repair index + repair snapshots --forget
// leave a repository both checkers accept.
func dkMissingPack(t *testing.T, f *dkFixture, dir string, env []string) {
	pid := f.dataPack(t)
	must(t, os.Remove(checkPackPath(dir, pid)))
	hit := f.filesHit(func(pack string, _ checkIndexBlob) bool { return pack == pid })
	want := []string{"pack " + pid + ": does not exist"}
	for p := range hit {
		want = append(want, `"/src/`+p+`"`)
	}
	expect(t, env, 1, cairnBin, []string{"check"}, want...)
	expect(t, env, 1, resticBin(t), []string{"check"}, pid)
	f.restoreAndCompare(t, env, named(hit))

	expect(t, env, 0, cairnBin, []string{"repair", "index"})
	expect(t, env, 0, cairnBin, []string{"repair", "snapshots", "--forget"}, "repaired 1 of 1 snapshots")
	bothAccept(t, env)
	f.restoreAfterForget(t, env, hit)
}

// restoreAfterForget: after repair snapshots --forget, the files of hit
// are gone from the snapshot and every other one restores identically.
func (f *dkFixture) restoreAfterForget(t *testing.T, env []string, hit map[string]bool) {
	t.Helper()
	dst := t.TempDir()
	cairn(t, env, "restore", "latest", "--target", dst)
	for p := range f.files {
		got, err := os.ReadFile(filepath.Join(dst, "src", p))
		want, _ := os.ReadFile(filepath.Join(f.work, "src", p))
		switch {
		case hit[p]:
			if err == nil {
				t.Errorf("%s restored after repair although it lost data", p)
			}
		case !bytes.Equal(got, want):
			t.Errorf("%s differs after repair (%v)", p, err)
		}
	}
}

// TestDamagedKeyConfigLock flips one byte in the key, the config and a
// lock file of a cairn repository.
func TestDamagedKeyConfigLock(t *testing.T) {
	t.Parallel()
	newRepo := func(t *testing.T) (string, []string, string) {
		work := t.TempDir()
		writeFile(t, filepath.Join(work, "src"), "f", "content\n")
		dir := filepath.Join(t.TempDir(), "repo")
		env := repoEnv(dir, "pw")
		cairn(t, env, "init")
		cairnIn(t, work, env, "backup", "-q", "src")
		return dir, env, work
	}
	flip := func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }
	// Commands of every kind: read-only, locking shared and exclusive, and
	// unlock.
	commands := func(t *testing.T) [][]string {
		return [][]string{{"snapshots"}, {"ls", "latest"}, {"restore", "latest", "--target", t.TempDir()},
			{"backup", "-q", "src"}, {"check"}, {"prune"}, {"unlock"}}
	}

	// The only key: no command gets in; each says so in one line naming
	// the key, exit 12 (restic 0.19.1: "Fatal: LoadRaw(<key/…>): invalid
	// data returned", exit 1), and nothing is written.
	t.Run("only key", func(t *testing.T) {
		t.Parallel()
		dir, env, work := newRepo(t)
		key := onlyKey(t, dir)
		damage(t, key, flip)
		before := treeState(t, dir)
		for _, args := range commands(t) {
			res := runIn(t, work, env, cairnBin, args...)
			oneLine(t, res, 12, "wrong password or no key found", "key "+filepath.Base(key)[:8], "does not match its name")
		}
		expect(t, env, 1, resticBin(t), []string{"snapshots"})
		if after := treeState(t, dir); after != before {
			t.Errorf("repository changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	// One of two keys: the other password still opens the repository
	// (restic 0.19.1 stops at the damaged key whichever password is given).
	t.Run("one of two keys", func(t *testing.T) {
		t.Parallel()
		dir, env, work := newRepo(t)
		first := onlyKey(t, dir)
		pwFile := writeFile(t, t.TempDir(), "pw2", "second")
		cairn(t, env, "key", "add", "--new-password-file", pwFile)
		damage(t, first, flip)
		env2 := repoEnv(dir, "second")
		for _, args := range commands(t) {
			if res := runIn(t, work, env2, cairnBin, args...); res.code != 0 {
				t.Errorf("cairn %v with the intact key: %v", args, res)
			}
		}
		oneLine(t, run(t, env, cairnBin, "snapshots"), 12, "key "+filepath.Base(first)[:8])
	})

	// config: one line, exit 1, as restic 0.19.1 ("Fatal: config or key
	// … is damaged: ciphertext verification failed"); nothing written.
	t.Run("config", func(t *testing.T) {
		t.Parallel()
		dir, env, work := newRepo(t)
		damage(t, filepath.Join(dir, "config"), flip)
		before := treeState(t, dir)
		for _, args := range commands(t) {
			res := runIn(t, work, env, cairnBin, args...)
			oneLine(t, res, 1, "config", "invalid data")
		}
		expect(t, env, 1, resticBin(t), []string{"snapshots"}, "config")
		if after := treeState(t, dir); after != before {
			t.Errorf("repository changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	// A lock file: every locking command stops in one line naming it and
	// saying that unlock --remove-all removes it (restic 0.19.1: two
	// lines, the same advice; restic 0.14 ignores it). Plain unlock leaves
	// it, exit 0 (as restic 0.19.1), with one warning line; unlock
	// --remove-all removes it, and then the commands work.
	t.Run("lock", func(t *testing.T) {
		t.Parallel()
		dir, env, work := newRepo(t)
		repo := checkOpenRepo(t, dir, "pw")
		doc, err := json.Marshal(map[string]any{"time": time.Now(), "exclusive": false, "hostname": "elsewhere", "username": "u", "pid": 1})
		must(t, err)
		lid, err := repo.SaveUnpacked(t.Context(), backend.LockFile, doc)
		must(t, err)
		lockFile := filepath.Join(dir, "locks", lid.String())
		damage(t, lockFile, flip)
		for _, args := range [][]string{{"backup", "-q", "src"}, {"check"}, {"prune"}, {"restore", "latest", "--target", t.TempDir()}, {"ls", "latest"}} {
			res := runIn(t, work, env, cairnBin, args...)
			oneLine(t, res, 1, "invalid lock file "+lid.Str(), "`cairn unlock --remove-all` removes it")
		}
		res := run(t, env, cairnBin, "unlock")
		oneLine(t, res, 0, "invalid lock file "+lid.Str(), "left in place")
		if _, err := os.Stat(lockFile); err != nil {
			t.Errorf("plain unlock removed the damaged lock: %v", err)
		}
		expect(t, env, 0, cairnBin, []string{"unlock", "--remove-all"}, "successfully removed 1 locks")
		if _, err := os.Stat(lockFile); !os.IsNotExist(err) {
			t.Errorf("damaged lock after unlock --remove-all: %v", err)
		}
		cairnIn(t, work, env, "backup", "-q", "src")
		restic(t, env, "check")
	})
}
