// Command cairn is a backup program that reads and writes restic
// repositories.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	if path := os.Getenv("CAIRN_CPUPROFILE"); path != "" {
		// For profiling runs (make bench, by hand); not a user feature.
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCommand().ExecuteContext(ctx)
	code := exitCode(ctx, err)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
	}
	pprof.StopCPUProfile()
	if path := os.Getenv("CAIRN_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	os.Exit(code)
}
