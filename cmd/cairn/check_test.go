package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/local"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/repository"
)

// checkOpenRepo opens the repository at dir in-process, for tests that
// read or craft repository files.
func checkOpenRepo(t *testing.T, dir, pw string) *repository.Repository {
	t.Helper()
	be, err := local.Open(dir)
	must(t, err)
	repo, err := repository.Open(t.Context(), be, pw, repository.Options{})
	must(t, err)
	return repo
}

// checkIndexBlob and checkIndexPack mirror the index file JSON.
type checkIndexBlob struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

type checkIndexPack struct {
	ID    string           `json:"id"`
	Blobs []checkIndexBlob `json:"blobs"`
	index string           // the index file listing it
}

// checkIndex returns the packs of every index file.
func checkIndex(t *testing.T, dir, pw string) []checkIndexPack {
	t.Helper()
	repo := checkOpenRepo(t, dir, pw)
	var out []checkIndexPack
	for _, name := range checkFiles(t, dir, "index") {
		fid, err := id.Parse(name)
		must(t, err)
		doc, err := repo.LoadUnpacked(t.Context(), backend.IndexFile, fid)
		must(t, err)
		var f struct {
			Packs []checkIndexPack `json:"packs"`
		}
		must(t, json.Unmarshal(doc, &f))
		for _, p := range f.Packs {
			p.index = name
			out = append(out, p)
		}
	}
	return out
}

// checkFiles lists the names of the files of one type directory.
func checkFiles(t *testing.T, dir, kind string) []string {
	t.Helper()
	pattern := filepath.Join(dir, kind, "*")
	if kind == "data" {
		pattern = filepath.Join(dir, kind, "*", "*")
	}
	m, err := filepath.Glob(pattern)
	must(t, err)
	var out []string
	for _, p := range m {
		out = append(out, filepath.Base(p))
	}
	slices.Sort(out)
	return out
}

func checkPackPath(dir, pid string) string { return filepath.Join(dir, "data", pid[:2], pid) }

// checkRewriteIndex replaces the index file listing pack pid by one that
// lists everything else.
func checkRewriteIndex(t *testing.T, dir, pw, pid string) {
	t.Helper()
	repo := checkOpenRepo(t, dir, pw)
	for _, name := range checkFiles(t, dir, "index") {
		fid, err := id.Parse(name)
		must(t, err)
		doc, err := repo.LoadUnpacked(t.Context(), backend.IndexFile, fid)
		must(t, err)
		var f map[string]json.RawMessage
		must(t, json.Unmarshal(doc, &f))
		var packs []map[string]json.RawMessage
		must(t, json.Unmarshal(f["packs"], &packs))
		kept := slices.DeleteFunc(slices.Clone(packs), func(p map[string]json.RawMessage) bool {
			return string(p["id"]) == `"`+pid+`"`
		})
		if len(kept) == len(packs) {
			continue
		}
		b, err := json.Marshal(kept)
		must(t, err)
		f["packs"] = b
		newDoc, err := json.Marshal(f)
		must(t, err)
		_, err = repo.SaveUnpacked(t.Context(), backend.IndexFile, newDoc)
		must(t, err)
		must(t, repo.RemoveFile(t.Context(), backend.IndexFile, fid))
		return
	}
	t.Fatalf("no index file lists pack %s", pid)
}

// checkState is treeState without the lock directory, which check
// changes (it takes and releases a lock).
func checkState(t *testing.T, dir string) string {
	t.Helper()
	var keep []string
	for _, l := range strings.Split(treeState(t, dir), "\n") {
		if !strings.HasPrefix(l, filepath.Join(dir, "locks")) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestCheckCleanRepositories: repositories written by cairn and by restic,
// in both versions, check clean with every way of reading data, and check
// changes nothing but its lock.
func TestCheckCleanRepositories(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeSampleTree(t, src)
	for _, writer := range []string{"cairn", "restic"} {
		for _, version := range []string{"1", "2"} {
			t.Run(writer+"-v"+version, func(t *testing.T) {
				t.Parallel()
				repo := filepath.Join(t.TempDir(), "repo")
				env := repoEnv(repo, "pw")
				if writer == "cairn" {
					cairn(t, env, "init", "--repository-version", version)
					cairn(t, env, "backup", src)
					cairn(t, env, "backup", src)
				} else {
					resticInit(t, env, "--repository-version", version)
					restic(t, env, "backup", src)
					restic(t, env, "backup", src)
				}
				before := checkState(t, repo)
				out := cairn(t, env, "check")
				for _, want := range []string{"load indexes", "check all packs", "check snapshots, trees and blobs", "no errors were found"} {
					if !strings.Contains(out, want) {
						t.Errorf("check output lacks %q:\n%s", want, out)
					}
				}
				out = cairn(t, env, "check", "--read-data")
				if !strings.Contains(out, "read all data") || !strings.Contains(out, "no errors were found") {
					t.Errorf("check --read-data output:\n%s", out)
				}
				for _, subset := range []string{"1/2", "2/2", "50%", "1M"} {
					cairn(t, env, "check", "--read-data-subset", subset)
				}
				if writer == "cairn" {
					restic(t, env, "check", "--read-data")
				}
				if after := checkState(t, repo); after != before {
					t.Errorf("check changed the repository:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			})
		}
	}
}

// checkFixture is a repository with two snapshots: the first of keep/,
// the second adds victim.bin, whose single blob is alone in its pack.
type checkFixture struct {
	dir        string
	keepPack   checkIndexPack // the data pack of the first backup
	victimPack checkIndexPack // the data pack of the second backup
	treePack2  checkIndexPack // the tree pack of the second backup
	index2     string         // the index file of the second backup
	snap1      string
	snap2      string
}

func makeCheckFixture(t *testing.T) checkFixture {
	t.Helper()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	writeFile(t, src, "keep/small.txt", "small\n")
	writeRandom(t, filepath.Join(src, "keep", "random.bin"), 2<<20, 7)
	repo := filepath.Join(base, "repo")
	env := repoEnv(repo, "pw")
	cairn(t, env, "init")
	cairn(t, env, "backup", src)
	first := checkIndex(t, repo, "pw")
	snaps1 := checkFiles(t, repo, "snapshots")
	writeRandom(t, filepath.Join(src, "victim.bin"), 300<<10, 8)
	cairn(t, env, "backup", src)

	f := checkFixture{dir: repo, snap1: snaps1[0]}
	for _, s := range checkFiles(t, repo, "snapshots") {
		if s != f.snap1 {
			f.snap2 = s
		}
	}
	old := map[string]bool{}
	for _, p := range first {
		old[p.ID] = true
		if p.Blobs[0].Type == "data" {
			f.keepPack = p
		}
	}
	for _, p := range checkIndex(t, repo, "pw") {
		switch {
		case old[p.ID]:
		case p.Blobs[0].Type == "data":
			f.victimPack, f.index2 = p, p.index
		default:
			f.treePack2 = p
		}
	}
	if f.keepPack.ID == "" || f.victimPack.ID == "" || f.treePack2.ID == "" || f.snap2 == "" {
		t.Fatalf("unexpected fixture layout: %+v", f)
	}
	if len(f.victimPack.Blobs) != 1 {
		t.Fatalf("victim pack holds %d blobs, want 1", len(f.victimPack.Blobs))
	}
	return f
}

// copy copies the fixture's repository to a new directory.
func (f checkFixture) copy(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	must(t, os.CopyFS(dir, os.DirFS(f.dir)))
	return dir
}

// TestCheckFindsDamage damages copies of one repository in one way each;
// check must find and name the damage and exit 1, and restic check must
// agree where it is quick (restic retries missing files for a minute).
func TestCheckFindsDamage(t *testing.T) {
	f := makeCheckFixture(t)
	keepBlob := f.keepPack.Blobs[0]
	victimBlob := f.victimPack.Blobs[0]
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		// plain is the exit code of plain check (0 or 1); read-data always fails.
		plain int
		// want must appear in the output of the failing checks.
		want []string
		// resticPlain and resticRead say whether restic check and restic
		// check --read-data are run and must fail (1) or pass (0); -1 skips.
		resticPlain, resticRead int
	}{
		{
			name: "flipped byte in data pack",
			damage: func(t *testing.T, dir string) {
				damage(t, checkPackPath(dir, f.keepPack.ID), func(b []byte) []byte {
					b[keepBlob.Offset+keepBlob.Length/2] ^= 0x01
					return b
				})
			},
			plain:       0,
			want:        []string{"pack " + f.keepPack.ID, "content does not match its name", keepBlob.ID, "is damaged"},
			resticPlain: 0, resticRead: 1,
		},
		{
			name: "truncated pack",
			damage: func(t *testing.T, dir string) {
				damage(t, checkPackPath(dir, f.keepPack.ID), func(b []byte) []byte { return b[:len(b)/2] })
			},
			plain:       1,
			want:        []string{"pack " + f.keepPack.ID, "file size is"},
			resticPlain: 1, resticRead: -1,
		},
		{
			name: "missing pack",
			damage: func(t *testing.T, dir string) {
				must(t, os.Remove(checkPackPath(dir, f.victimPack.ID)))
			},
			plain:       1,
			want:        []string{"pack " + f.victimPack.ID + ": does not exist", "victim.bin", victimBlob.ID},
			resticPlain: 1, resticRead: -1,
		},
		{
			name: "missing tree pack",
			damage: func(t *testing.T, dir string) {
				must(t, os.Remove(checkPackPath(dir, f.treePack2.ID)))
			},
			plain:       1,
			want:        []string{"pack " + f.treePack2.ID + ": does not exist", "snapshot " + f.snap2[:8], "cannot load"},
			resticPlain: -1, resticRead: -1,
		},
		{
			name: "missing index file",
			damage: func(t *testing.T, dir string) {
				must(t, os.Remove(filepath.Join(dir, "index", f.index2)))
			},
			plain: 1,
			want: []string{
				"pack " + f.victimPack.ID + ": not referenced in any index",
				"pack " + f.treePack2.ID + ": not referenced in any index",
				"(snapshot " + f.snap2[:8] + "): not found in index",
			},
			resticPlain: 1, resticRead: 1,
		},
		{
			name: "index lacks a data pack",
			damage: func(t *testing.T, dir string) {
				checkRewriteIndex(t, dir, "pw", f.victimPack.ID)
			},
			plain: 1,
			want: []string{
				"pack " + f.victimPack.ID + ": not referenced in any index",
				"victim.bin", "data blob " + victimBlob.ID + " not found in index", "snapshot " + f.snap2[:8],
			},
			resticPlain: 1, resticRead: 1,
		},
		{
			name: "snapshot without tree",
			damage: func(t *testing.T, dir string) {
				repo := checkOpenRepo(t, dir, "pw")
				_, err := repo.SaveUnpacked(t.Context(), backend.SnapshotFile, []byte(`{"time":"2024-01-02T03:04:05Z","paths":["/x"]}`))
				must(t, err)
			},
			plain:       1,
			want:        []string{"error: snapshot ", "no tree"},
			resticPlain: -1, resticRead: -1,
		},
		{
			name: "garbage snapshot file",
			damage: func(t *testing.T, dir string) {
				damage(t, filepath.Join(dir, "snapshots", f.snap1), func([]byte) []byte { return []byte("garbage") })
			},
			plain:       1,
			want:        []string{"snapshot " + f.snap1, "content does not match its name"},
			resticPlain: 1, resticRead: 1,
		},
		{
			name: "flipped byte in pack header",
			damage: func(t *testing.T, dir string) {
				damage(t, checkPackPath(dir, f.keepPack.ID), func(b []byte) []byte {
					b[len(b)-10] ^= 0x01
					return b
				})
			},
			plain:       1,
			want:        []string{"pack " + f.keepPack.ID + ": header"},
			resticPlain: 0, resticRead: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := f.copy(t)
			c.damage(t, dir)
			env := repoEnv(dir, "pw")
			before := checkState(t, dir)

			plain := run(t, env, cairnBin, "check")
			if plain.code != c.plain {
				t.Errorf("check: exit code %d, want %d\n%v", plain.code, c.plain, plain)
			}
			read := run(t, env, cairnBin, "check", "--read-data")
			if read.code != 1 {
				t.Errorf("check --read-data: exit code %d, want 1\n%v", read.code, read)
			}
			if !strings.Contains(read.stderr, "Fatal: repository contains errors") {
				t.Errorf("check --read-data: no fatal line:\n%v", read)
			}
			for _, res := range []result{plain, read} {
				if res.code == 0 {
					if !strings.Contains(res.stdout, "no errors were found") {
						t.Errorf("passing check did not say so:\n%v", res)
					}
					continue
				}
				all := res.stdout + res.stderr
				for _, w := range c.want {
					if !strings.Contains(all, w) {
						t.Errorf("output lacks %q:\n%v", w, res)
					}
				}
			}
			if after := checkState(t, dir); after != before {
				t.Errorf("check changed the repository:\nbefore:\n%s\nafter:\n%s", before, after)
			}

			for _, rc := range []struct {
				want int
				args []string
			}{{c.resticPlain, []string{"check"}}, {c.resticRead, []string{"check", "--read-data"}}} {
				if rc.want < 0 {
					continue
				}
				res := run(t, env, resticBin(t), rc.args...)
				if res.code != rc.want {
					t.Errorf("restic %v: exit code %d, want %d\n%v", rc.args, res.code, rc.want, res)
				}
			}
		})
	}
}

// TestCheckReadDataSubset: the n/t groups split the packs by their first
// byte, so that exactly the group holding a damaged pack fails.
func TestCheckReadDataSubset(t *testing.T) {
	f := makeCheckFixture(t)
	dir := f.copy(t)
	damage(t, checkPackPath(dir, f.victimPack.ID), func(b []byte) []byte {
		b[10] ^= 0x80
		return b
	})
	env := repoEnv(dir, "pw")
	first, err := id.Parse(f.victimPack.ID)
	must(t, err)
	for _, groups := range []int{1, 2, 3} {
		for n := 1; n <= groups; n++ {
			res := run(t, env, cairnBin, "check", "--read-data-subset", fmt.Sprintf("%d/%d", n, groups))
			want := 0
			if int(first[0])%groups == n-1 {
				want = 1
			}
			if res.code != want {
				t.Errorf("--read-data-subset %d/%d: exit code %d, want %d\n%v", n, groups, res.code, want, res)
			}
			if !strings.Contains(res.stdout, fmt.Sprintf("read group #%d of ", n)) {
				t.Errorf("--read-data-subset %d/%d: no announcement:\n%v", n, groups, res)
			}
		}
	}
	if res := run(t, env, cairnBin, "check", "--read-data-subset", "100%"); res.code != 1 || !strings.Contains(res.stderr, f.victimPack.ID) {
		t.Errorf("--read-data-subset 100%%: want the damaged pack found:\n%v", res)
	}
	// More than the repository holds: every pack.
	if res := run(t, env, cairnBin, "check", "--read-data-subset", "1G"); res.code != 1 || !strings.Contains(res.stderr, f.victimPack.ID) {
		t.Errorf("--read-data-subset 1G: want the damaged pack found:\n%v", res)
	}

	for _, args := range [][]string{
		{"--read-data-subset", "0/2"},
		{"--read-data-subset", "1/300"},
		{"--read-data-subset", "0%"},
		{"--read-data-subset", "abc"},
		{"--read-data", "--read-data-subset", "1/2"},
	} {
		res := run(t, env, cairnBin, append([]string{"check"}, args...)...)
		oneLine(t, res, 1, "Fatal: ", "read-data")
	}
}

// TestCheckCache: without --with-cache check neither reads nor fills the
// local cache (it only keeps its result there, see docs/metrics.md); with
// it, it does.
func TestCheckCache(t *testing.T) {
	f := makeCheckFixture(t)
	env := repoEnv(f.copy(t), "pw")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	env = append(env, "CAIRN_CACHE_DIR="+cacheDir)
	cairn(t, env, "check", "--read-data")
	var files []string
	must(t, filepath.WalkDir(cacheDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(cacheDir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	}))
	var cfg struct {
		ID string `json:"id"`
	}
	must(t, json.Unmarshal([]byte(cairn(t, env, "cat", "config")), &cfg))
	want := []string{"CACHEDIR.TAG", cfg.ID + "/cairn-check.json", cfg.ID + "/version"}
	slices.Sort(want) // WalkDir's order: by name
	if !slices.Equal(files, want) {
		t.Errorf("check without --with-cache left %q in the cache directory, want only %q", files, want)
	}
	cairn(t, env, "check", "--with-cache")
	entries, err := os.ReadDir(cacheDir)
	if err != nil || len(entries) == 0 {
		t.Errorf("check --with-cache did not use the cache: %v %v", entries, err)
	}
}
