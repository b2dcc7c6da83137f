package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"testing"
)

func TestCgroupLimit(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name    string
		files   []string
		want    uint64
		wantSet bool
	}{
		{"v2 limit", []string{file("a", "2147483648\n")}, 2 << 30, true},
		{"v2 max", []string{file("b", "max\n"), file("c", "1000")}, 0, false},
		{"v1 unlimited", []string{file("d", strconv.FormatUint(math.MaxInt64&^4095, 10))}, 0, false},
		{"v1 after missing v2", []string{filepath.Join(dir, "none"), file("e", "1073741824")}, 1 << 30, true},
		{"garbage", []string{file("f", "lots")}, 0, false},
		{"none", []string{filepath.Join(dir, "none")}, 0, false},
	} {
		got, ok := cgroupLimit(c.files)
		if got != c.want || ok != c.wantSet {
			t.Errorf("%s: cgroupLimit = %d, %v; want %d, %v", c.name, got, ok, c.want, c.wantSet)
		}
	}
}

func TestTuneMemory(t *testing.T) {
	oldGC := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(oldGC); debug.SetMemoryLimit(oldLimit) })
	limit := filepath.Join(t.TempDir(), "memory.max")
	if err := os.WriteFile(limit, []byte("4000000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{}
	tuneMemory(func(k string) string { return env[k] }, []string{limit})
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent = %d, want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 3000000000 {
		t.Errorf("memory limit = %d, want 3000000000", got)
	}

	env = map[string]string{"GOGC": "200", "GOMEMLIMIT": "1GiB"}
	tuneMemory(func(k string) string { return env[k] }, []string{limit})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set: GC percent = %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set: memory limit = %d, want it left alone", got)
	}
}
