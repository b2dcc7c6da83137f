package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenStatus records and compares the status lines of backup and
// restore: a backup of 96 MiB of random data takes long enough, at
// restic's highest rate of 60 status lines a second, for both tools to
// print several.
func TestGoldenStatus(t *testing.T) {
	bigTree := func(t *testing.T, f *goldenFixture) {
		writeRandom(t, filepath.Join(f.src, "data", "random.bin"), 96<<20, 7)
		f.env = append(f.env, "RESTIC_PROGRESS_FPS=60")
	}
	runGolden(t, []goldenCase{
		{name: "backup_status", status: true, prepare: bigTree, args: func(*goldenFixture) []string {
			return []string{"backup", "--tag", "big", "."}
		}},
		{name: "restore_status", status: true, prepare: func(t *testing.T, f *goldenFixture) {
			bigTree(t, f)
			f.must(t, "backup", "--tag", "big", ".")
		}, args: func(f *goldenFixture) []string {
			return []string{"restore", "latest", "--tag", "big", "--target", f.target}
		}},
	})
}

// TestJSONConsumerInitLs reads `init --json` and `ls --json` as a program
// written against restic's scripting documentation would: only the field
// names documented there, one JSON object a line.
func TestJSONConsumerInitLs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := repoEnv(filepath.Join(dir, "repo"), "consumer")
	src := filepath.Join(dir, "src")
	writeFile(t, src, "docs/a.txt", "alpha\n")
	writeFile(t, src, "b.bin", strings.Repeat("b", 3000))

	var initMsg struct {
		MessageType string `json:"message_type"`
		ID          string `json:"id"`
		Repository  string `json:"repository"`
	}
	out := cairn(t, env, "init", "--json")
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &initMsg); err != nil {
		t.Fatalf("init --json printed %q: %v", out, err)
	}
	if initMsg.MessageType != "initialized" || len(initMsg.ID) != 64 || initMsg.Repository != filepath.Join(dir, "repo") {
		t.Errorf("init --json = %+v", initMsg)
	}

	cairnIn(t, src, env, "backup", "-q", ".")
	type lsLine struct {
		MessageType string   `json:"message_type"`
		ID          string   `json:"id"`
		Paths       []string `json:"paths"`
		Hostname    string   `json:"hostname"`
		Name        string   `json:"name"`
		Type        string   `json:"type"`
		Path        string   `json:"path"`
		Size        uint64   `json:"size"`
		Mode        uint32   `json:"mode"`
	}
	var lines []lsLine
	sc := bufio.NewScanner(strings.NewReader(cairn(t, env, "ls", "--json", "latest")))
	for sc.Scan() {
		var l lsLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("ls --json line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 || lines[0].MessageType != "snapshot" || len(lines[0].ID) != 64 || len(lines[0].Paths) != 1 || lines[0].Paths[0] != src {
		t.Fatalf("ls --json starts with %+v, want the snapshot", lines)
	}
	got := map[string]string{}
	for _, l := range lines[1:] {
		if l.MessageType != "node" {
			t.Errorf("ls --json line %+v: want node", l)
		}
		got[l.Path] = fmt.Sprintf("%s %s %d", l.Name, l.Type, l.Size)
	}
	for p, want := range map[string]string{
		// A backup of "." holds the entries at the root, as restic's does.
		"/b.bin":      "b.bin file 3000",
		"/docs":       "docs dir 0",
		"/docs/a.txt": "a.txt file 6",
	} {
		if got[p] != want {
			t.Errorf("ls --json %s = %q, want %q (all: %v)", p, got[p], want, got)
		}
	}
}
