package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/mem"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/crypto"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
	"github.com/cairn-backup/cairn/internal/pack"
	"github.com/cairn-backup/cairn/internal/testservers"
)

// resticBin returns $RESTIC_BIN or restic on the PATH; without one the test
// is skipped, except under CI=true, where that is a failure.
func resticBin(t *testing.T) string {
	t.Helper()
	return testservers.Restic(t)
}

// buildCairn builds the cairn binary into dir and returns its path.
func buildCairn(t *testing.T, dir string) string {
	t.Helper()
	cairn := filepath.Join(dir, "cairn")
	build := exec.Command("go", "build", "-o", cairn, "github.com/cairn-backup/cairn/cmd/cairn")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build cairn: %v\n%s", err, out)
	}
	return cairn
}

// runTool runs bin with args and the repository environment and fails the
// test on a non-zero exit; it returns stdout.
func runTool(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// blobLines returns the sorted "type id" lines of `list blobs`.
func blobLines(out string) []string {
	lines := strings.Fields(strings.ReplaceAll(out, " ", "_"))
	sort.Strings(lines)
	return lines
}

// expectedLines lists the "type_id" lines the options' blobs must add.
func expectedLines(o options) []string {
	var lines []string
	for i := range o.blobs {
		lines = append(lines, fmt.Sprintf("%v_%v", o.blobType(i), id.Hash(plaintext(o.seed, i))))
	}
	return lines
}

// TestRepositoryStaysValid generates blobs into a repository made and
// backed up to by restic, and has both restic and cairn check every byte
// and list exactly the snapshot's blobs plus the generated ones.
func TestRepositoryStaysValid(t *testing.T) {
	restic := resticBin(t)
	dir := t.TempDir()
	cairn := buildCairn(t, dir)
	repo := filepath.Join(dir, "repo")
	env := []string{"RESTIC_PASSWORD=scale", "RESTIC_REPOSITORY=" + repo,
		"RESTIC_CACHE_DIR=" + filepath.Join(dir, "cache"), "CAIRN_CACHE_DIR=" + filepath.Join(dir, "cache")}
	runTool(t, env, restic, "init", "--repository-version", "2")
	data := filepath.Join(dir, "data")
	for i, name := range []string{"a", "b", "c"} {
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, name), bytes.Repeat([]byte{byte('a' + i)}, 100*(i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runTool(t, env, restic, "backup", "-q", data)
	before := blobLines(runTool(t, env, restic, "list", "blobs"))

	o := defaultOptions()
	o.blobs, o.seed, o.indexBlobs = 20000, 7, 5000 // 4 index files of 3 data and 1 tree pack each
	args := []string{"-repo", repo, "-password", "scale", "-blobs", fmt.Sprint(o.blobs),
		"-seed", fmt.Sprint(o.seed), "-index-blobs", fmt.Sprint(o.indexBlobs), "-workers", "2"}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("scalegen %v: %v\n%s", args, err, stderr.String())
	}
	if want := "scalegen: 20000 blobs (1000 tree) in 16 packs, 4 index files"; !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("summary %q, want it to start with %q", stdout.String(), want)
	}

	want := append(append([]string{}, before...), expectedLines(o)...)
	sort.Strings(want)
	for _, tool := range []string{restic, cairn} {
		out := runTool(t, env, tool, "check", "--read-data")
		if !strings.Contains(out, "no errors were found") {
			t.Errorf("%s check --read-data:\n%s", filepath.Base(tool), out)
		}
		got := blobLines(runTool(t, env, tool, "list", "blobs"))
		if len(got) != len(want) {
			t.Errorf("%s list blobs: %d blobs, want %d (%d from the snapshot + %d)", filepath.Base(tool), len(got), len(want), len(before), o.blobs)
		} else if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s list blobs: not the snapshot's blobs plus the generated ones", filepath.Base(tool))
		}
	}
	if n := len(blobLines(runTool(t, env, restic, "list", "index"))); n != 1+4 {
		t.Errorf("restic list index: %d files, want 5 (the backup's and 4 generated)", n)
	}
}

// handles generates into a memory backend and returns every blob the index
// files list, and checks that each pack holds one blob type and at most
// o.packBlobs blobs.
func handles(t *testing.T, o options) []string {
	t.Helper()
	key, err := crypto.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	be := mem.New()
	if _, err := generate(context.Background(), be, key, o); err != nil {
		t.Fatal(err)
	}
	var out []string
	err = be.List(t.Context(), backend.IndexFile, func(fi backend.FileInfo) error {
		raw, err := backend.LoadAll(t.Context(), be, backend.Handle{Type: backend.IndexFile, Name: fi.Name})
		if err != nil {
			return err
		}
		doc, err := key.Open(nil, raw)
		if err != nil {
			return err
		}
		if doc[0] != '{' {
			return fmt.Errorf("index %s is not plain JSON", fi.Name)
		}
		f, err := index.Decode(doc, 2)
		if err != nil {
			return err
		}
		for _, p := range f.Packs {
			if len(p.Blobs) > o.packBlobs {
				t.Errorf("pack %v has %d blobs, more than %d", p.ID.Str(), len(p.Blobs), o.packBlobs)
			}
			for _, b := range p.Blobs {
				if b.Type != p.Blobs[0].Type {
					t.Errorf("pack %v mixes blob types", p.ID.Str())
				}
				out = append(out, b.Handle.String())
			}
			ph := backend.Handle{Type: backend.PackFile, Name: p.ID.String()}
			packRaw, err := backend.LoadAll(t.Context(), be, ph)
			if err != nil {
				return err
			}
			hdr, err := pack.ReadHeader(t.Context(), bytes.NewReader(packRaw), int64(len(packRaw)), key)
			if err != nil {
				return err
			}
			if fmt.Sprint(hdr) != fmt.Sprint(p.Blobs) {
				t.Errorf("pack %v: header and index disagree", p.ID.Str())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestSameSeedSameBlobs(t *testing.T) {
	o := defaultOptions()
	o.blobs, o.packBlobs, o.indexBlobs = 3001, 100, 1000
	a, b := handles(t, o), handles(t, o)
	if len(a) != o.blobs {
		t.Fatalf("%d blobs listed, want %d", len(a), o.blobs)
	}
	if strings.Join(a, " ") != strings.Join(b, " ") {
		t.Error("two runs with the same seed gave different blobs")
	}
	o.seed++
	if c := handles(t, o); strings.Join(a, " ") == strings.Join(c, " ") {
		t.Error("another seed gave the same blobs")
	}
	trees := 0
	for _, h := range a {
		if strings.HasPrefix(h, blob.Tree.String()) {
			trees++
		}
	}
	if want := (o.blobs + o.treeEvery - 1) / o.treeEvery; trees != want {
		t.Errorf("%d tree blobs, want %d", trees, want)
	}
}

// TestLargeIndexCommands runs cairn's index-heavy commands on a
// repository whose index is large enough that cairn keeps it outside the
// Go heap (more than 32,768 blobs of one type): check --read-data, backup,
// copy into a second repository and prune, which rewrites the index from
// the in-memory one. restic must find both repositories clean afterwards
// and list the same blobs as cairn.
func TestLargeIndexCommands(t *testing.T) {
	restic := resticBin(t)
	dir := t.TempDir()
	cairn := buildCairn(t, dir)
	repo, repo2 := filepath.Join(dir, "repo"), filepath.Join(dir, "repo2")
	env := []string{"RESTIC_PASSWORD=scale", "RESTIC_REPOSITORY=" + repo,
		"RESTIC_CACHE_DIR=" + filepath.Join(dir, "cache"), "CAIRN_CACHE_DIR=" + filepath.Join(dir, "cache")}
	env2 := append(append([]string{}, env...), "RESTIC_REPOSITORY="+repo2, "RESTIC_FROM_REPOSITORY="+repo, "RESTIC_FROM_PASSWORD=scale")
	runTool(t, env, restic, "init", "--repository-version", "2")
	runTool(t, env2, cairn, "init")

	o := defaultOptions()
	o.blobs, o.seed = 70000, 3
	args := []string{"-repo", repo, "-password", "scale", "-blobs", fmt.Sprint(o.blobs), "-seed", fmt.Sprint(o.seed), "-workers", "2"}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("scalegen %v: %v\n%s", args, err, stderr.String())
	}
	if out := runTool(t, env, cairn, "check", "--read-data"); !strings.Contains(out, "no errors were found") {
		t.Fatalf("cairn check --read-data on the generated index:\n%s", out)
	}

	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		content := bytes.Repeat([]byte(fmt.Sprintf("file %d ", i)), 5000*(i+1))
		if err := os.WriteFile(filepath.Join(data, fmt.Sprint(i)), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runTool(t, env, cairn, "backup", "-q", data)
	runTool(t, env2, cairn, "copy")
	runTool(t, env, cairn, "prune")

	for _, e := range [][]string{env, env2} {
		if out := runTool(t, e, restic, "check", "--read-data"); !strings.Contains(out, "no errors were found") {
			t.Errorf("restic check --read-data:\n%s", out)
		}
		r, c := blobLines(runTool(t, e, restic, "list", "blobs")), blobLines(runTool(t, e, cairn, "list", "blobs"))
		if strings.Join(r, "\n") != strings.Join(c, "\n") {
			t.Errorf("restic lists %d blobs, cairn %d", len(r), len(c))
		}
	}
	restored := filepath.Join(dir, "restored")
	runTool(t, env2, restic, "restore", "latest", "--target", restored)
	for i := range 20 {
		want, _ := os.ReadFile(filepath.Join(data, fmt.Sprint(i)))
		got, err := os.ReadFile(filepath.Join(restored, data, fmt.Sprint(i)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("file %d restored by restic from the copy differs (%v)", i, err)
		}
	}
}
