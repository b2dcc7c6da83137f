package main

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// gcPercent is cairn's garbage collector target when GOGC is not set.
// The blob index, the one structure that grows with the repository, lives
// outside the Go heap (internal/index), so the heap holds mostly
// short-lived buffers; collecting at 50 % growth instead of Go's 100 %
// costs little CPU and lowers the peak resident set. restic uses 50 too.
const gcPercent = 50

// memLimitShare is the part of a cgroup's memory limit given to the Go
// runtime as its soft limit when GOMEMLIMIT is not set, leaving room for
// memory outside the heap (the index arena, stacks, the page tables).
const memLimitShare = 0.75

// cgroupLimitFiles hold a memory limit of the process's cgroup: version
// 2, then version 1.
var cgroupLimitFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// tuneMemory sets the collector's policy unless the environment does:
// GOGC and GOMEMLIMIT, read by the Go runtime itself, always win.
func tuneMemory(getenv func(string) string, limitFiles []string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		if limit, ok := cgroupLimit(limitFiles); ok {
			debug.SetMemoryLimit(int64(float64(limit) * memLimitShare))
		}
	}
}

// cgroupLimit returns the first memory limit found in files. "max" (no
// limit) and version 1's huge "unlimited" numbers are no limit.
func cgroupLimit(files []string) (uint64, bool) {
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(doc))
		if s == "max" {
			return 0, false
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 || n >= math.MaxInt64/2 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
