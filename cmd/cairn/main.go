// Command cairn is a backup program that reads and writes restic
// repositories.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	tuneMemory(os.Getenv, cgroupLimitFiles)
	if path := os.Getenv("CAIRN_CPUPROFILE"); path != "" {
		// For profiling runs (make bench, by hand); not a user feature.
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	err := asUsageError(root.ExecuteContext(ctx))
	code := exitCode(ctx, err)
	stop()
	var usage *usageError
	asJSON, _ := root.PersistentFlags().GetBool("json")
	switch {
	case err == nil:
	case asJSON:
		printExitError(os.Stderr, code, err)
	case errors.As(err, &usage):
		// As restic: cobra's own text, several lines for a suggestion.
		fmt.Fprintln(os.Stderr, err.Error())
	default:
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

// printExitError writes restic's exit_error message, the last line of a
// failed command under --json.
func printExitError(w io.Writer, code int, err error) {
	b, _ := json.Marshal(struct {
		MessageType string `json:"message_type"`
		Code        int    `json:"code"`
		Message     string `json:"message"`
	}{"exit_error", code, exitMessage(err)})
	fmt.Fprintf(w, "%s\n", b)
}
