package main

import (
	"fmt"
	"io"
	"sync"
)

// lineReporter prints one line per problem and counts them.
type lineReporter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
	n  int       // guarded by mu
}

func (r *lineReporter) Error(path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	fmt.Fprintf(r.w, "error: %s: %v\n", path, err)
}

func (r *lineReporter) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}
