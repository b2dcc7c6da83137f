//go:build linux

package tree_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
)

// needRestic returns the restic binary, or skips the test (fails it under
// CI=true) if it is missing or is not the 0.14 release whose bytes these
// tests pin.
func needRestic(t *testing.T) string {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	exe, err := exec.LookPath("restic")
	if err != nil {
		fail("restic binary not found: %v", err)
	}
	out, err := exec.Command(exe, "version").Output()
	if err != nil {
		fail("restic version: %v", err)
	}
	if !bytes.HasPrefix(out, []byte("restic 0.14.")) {
		fail("these tests pin restic 0.14's tree encoding; found %s", bytes.TrimSpace(out))
	}
	return exe
}

// restic runs the binary against a fresh repository of its own.
type restic struct {
	t   *testing.T
	exe string
	env []string
}

// newRestic initializes a repository in a new temporary directory. extraEnv
// entries (such as TZ=...) override the inherited environment.
func newRestic(t *testing.T, exe string, extraEnv ...string) *restic {
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RESTIC_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"RESTIC_REPOSITORY="+filepath.Join(dir, "repo"),
		"RESTIC_PASSWORD=cairn-test",
		"RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"),
	)
	r := &restic{t: t, exe: exe, env: append(env, extraEnv...)}
	r.run("init", "--quiet")
	return r
}

func (r *restic) run(args ...string) []byte {
	r.t.Helper()
	cmd := exec.CommandContext(r.t.Context(), r.exe, args...)
	cmd.Env = r.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// backup backs up the given paths (and flags) and returns the new
// snapshot's root tree ID.
func (r *restic) backup(args ...string) id.ID {
	r.t.Helper()
	r.run(append([]string{"backup", "--quiet"}, args...)...)
	var snaps []struct {
		Tree id.ID `json:"tree"`
	}
	if err := json.Unmarshal(r.run("--no-lock", "snapshots", "--json"), &snaps); err != nil || len(snaps) != 1 {
		r.t.Fatalf("restic snapshots --json: %d snapshots, %v; want 1", len(snaps), err)
	}
	return snaps[0].Tree
}

// blob returns the plaintext of a tree blob and checks it hashes to its ID.
func (r *restic) blob(tid id.ID) []byte {
	r.t.Helper()
	b := r.run("--no-lock", "cat", "blob", tid.String())
	if id.Hash(b) != tid {
		r.t.Fatalf("restic cat blob %v: content hashes to %v", tid.Str(), id.Hash(b).Str())
	}
	return b
}

// checkRoundTrip checks that decoding restic's tree bytes and encoding them
// again gives the same bytes, and returns the decoded tree.
func checkRoundTrip(t *testing.T, what string, b []byte) *tree.Tree {
	t.Helper()
	tr, err := tree.Decode(b)
	if err != nil {
		t.Fatalf("%s: Decode(restic's tree) = %v", what, err)
	}
	again, err := tr.Encode(nil)
	if err != nil {
		t.Fatalf("%s: Encode(Decode(restic's tree)) = %v", what, err)
	}
	if !bytes.Equal(again, b) {
		t.Errorf("%s: Encode(Decode(restic's tree)) differs from restic's bytes:\n%s", what, firstNodeDiff(again, b))
	}
	return tr
}

// firstNodeDiff describes the first node whose bytes differ.
func firstNodeDiff(got, want []byte) string {
	var g, w struct{ Nodes []json.RawMessage }
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil {
		return fmt.Sprintf("got  %q\nwant %q", got, want)
	}
	for i := range max(len(g.Nodes), len(w.Nodes)) {
		var gn, wn []byte
		if i < len(g.Nodes) {
			gn = g.Nodes[i]
		}
		if i < len(w.Nodes) {
			wn = w.Nodes[i]
		}
		if !bytes.Equal(gn, wn) {
			return fmt.Sprintf("node %d of %d/%d:\ngot  %s\nwant %s", i, len(g.Nodes), len(w.Nodes), gn, wn)
		}
	}
	return fmt.Sprintf("nodes equal, framing differs:\ngot  %q\nwant %q", got, want)
}

// compareEncoding checks that ours encodes to exactly restic's bytes for
// tree tid.
func compareEncoding(t *testing.T, what string, ours *tree.Tree, want []byte, tid id.ID) {
	t.Helper()
	got, err := ours.Encode(nil)
	if err != nil {
		t.Fatalf("%s: Encode() = %v", what, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: our tree differs from restic's %v:\n%s", what, tid.Str(), firstNodeDiff(got, want))
		return
	}
	if id.Hash(got) != tid {
		t.Errorf("%s: id.Hash(our tree) = %v, want %v", what, id.Hash(got), tid)
	}
}

// compareDir builds the tree of dir with NodeFromPath, taking Content and
// Subtree from restic's tree tid, and checks it byte for byte; it recurses
// into subdirectories. Sockets are skipped, as restic skips them.
func compareDir(t *testing.T, r *restic, opts tree.NodeOptions, dir string, tid id.ID) {
	t.Helper()
	want := r.blob(tid)
	theirs := checkRoundTrip(t, dir, want)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ours tree.Tree
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := opts.NodeFromPath(path, fi)
		if err != nil {
			t.Fatalf("NodeFromPath(%q) = %v", path, err)
		}
		if n.Type == tree.TypeSocket {
			if theirs.Find(n.Name) != nil {
				t.Errorf("restic stored socket %q; expected it to skip sockets", path)
			}
			continue
		}
		rn := theirs.Find(n.Name)
		if rn == nil {
			t.Errorf("restic's tree of %s has no node %q", dir, n.Name)
			continue
		}
		switch n.Type {
		case tree.TypeFile:
			n.Content = rn.Content
		case tree.TypeDir:
			if rn.Subtree == nil {
				t.Fatalf("restic's node %q has no subtree", path)
			}
			n.Subtree = rn.Subtree
			compareDir(t, r, opts, path, *rn.Subtree)
		}
		if err := ours.Insert(n); err != nil {
			t.Fatal(err)
		}
	}
	compareEncoding(t, dir, &ours, want, tid)
}

// ancestorStat is the part of a directory's stat that its node records.
func ancestorStat(t *testing.T, path string) *tree.Node {
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := tree.NodeOptions{WithAtime: true}.NodeFromPath(path, fi)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// prefixes returns "/a", "/a/b", ... for the absolute path p.
func prefixes(p string) []string {
	var out []string
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}

// backupAndCompare backs up src (an absolute path) with restic and checks
// every tree of the snapshot: the chain of one-node trees for the
// directories above src (each node carries the real directory's metadata)
// and the full trees from src down. An ancestor outside stable that changed
// while restic ran (such as /tmp) is not compared.
func backupAndCompare(t *testing.T, r *restic, opts tree.NodeOptions, src, stable string, flags ...string) {
	t.Helper()
	levels := prefixes(src)
	before := make([]*tree.Node, len(levels))
	for i, p := range levels {
		before[i] = ancestorStat(t, p)
	}
	tid := r.backup(append(flags, src)...)
	for i, p := range levels {
		want := r.blob(tid)
		theirs := checkRoundTrip(t, "tree above "+p, want)
		if len(theirs.Nodes) != 1 || theirs.Nodes[0].Name != filepath.Base(p) || theirs.Nodes[0].Subtree == nil {
			t.Fatalf("tree for %s: want exactly one dir node %q, got %s", p, filepath.Base(p), want)
		}
		rn := theirs.Nodes[0]
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		n, err := opts.NodeFromPath(p, fi)
		if err != nil {
			t.Fatalf("NodeFromPath(%q) = %v", p, err)
		}
		n.Subtree = rn.Subtree
		after := ancestorStat(t, p)
		if stat1, stat2 := encodeNode(t, before[i]), encodeNode(t, after); stat1 != stat2 && !strings.HasPrefix(p+"/", stable+"/") {
			t.Logf("%s changed while restic ran; not comparing its node", p)
		} else {
			compareEncoding(t, "tree above "+p, &tree.Tree{Nodes: []*tree.Node{n}}, want, tid)
		}
		tid = *rn.Subtree
	}
	compareDir(t, r, opts, src, tid)
}

func encodeNode(t *testing.T, n *tree.Node) string {
	b, err := (&tree.Tree{Nodes: []*tree.Node{n}}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// errSkip marks an optional part of a test fixture the system refused.
var errSkip = errors.New("not supported here")
