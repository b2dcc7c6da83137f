package main

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/cairn-backup/cairn/internal/checker"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/spf13/cobra"
)

type checkOptions struct {
	ReadData       bool
	ReadDataSubset string
	WithCache      bool
}

func newCheckCommand(g *globalOptions) *cobra.Command {
	var o checkOptions
	cmd := &cobra.Command{
		Use:   "check [flags]",
		Short: "Check the repository for errors",
		Long: `Check the repository for errors, without changing it.

check loads every index file, compares the index with the pack files
(missing, unreferenced, wrong size, pack header and index disagreeing),
loads every snapshot and walks every tree they reach, and reports what is
missing or damaged. With --read-data it also reads every pack in full and
verifies each blob; --read-data-subset reads only some packs:

  n/t   group n of t (the packs whose ID's first byte modulo t is n-1);
        running 1/t to t/t in turn reads everything once
  x%    x percent of the packs, chosen at random
  size  packs chosen at random adding up to at most size (e.g. 50M)

The exit code is 1 if the repository contains errors. Packs no index
references are reported, but are not errors.

Without --with-cache the local cache is neither read nor written, so that
what is checked is what the repository holds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.ReadData, "read-data", false, "read all data blobs")
	f.StringVar(&o.ReadDataSubset, "read-data-subset", "", "read a `subset` of the packs: n/t, x% or a size")
	f.BoolVar(&o.WithCache, "with-cache", false, "use the local cache")
	return cmd
}

func runCheck(cmd *cobra.Command, g *globalOptions, o checkOptions) error {
	var subset *checker.Subset
	switch {
	case o.ReadData && o.ReadDataSubset != "":
		return errors.New("--read-data and --read-data-subset cannot be used together")
	case o.ReadData:
		subset = &checker.All
	case o.ReadDataSubset != "":
		s, err := checker.ParseSubset(o.ReadDataSubset)
		if err != nil {
			return err
		}
		subset = &s
	}
	if !o.WithCache {
		g.NoCache = true
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	verbosef := func(format string, args ...any) {
		if !g.Quiet {
			fmt.Fprintf(out, format, args...)
		}
	}

	if !g.NoLock {
		verbosef("create exclusive lock for repository\n")
	}
	repo, ctx, release, err := g.openLocked(cmd.Context(), lockExclusive, true)
	if err != nil {
		return err
	}
	defer release()

	c := checker.New(repo, func(f checker.Finding) {
		if f.Severity == checker.Error {
			fmt.Fprintf(errOut, "error: %v\n", f)
			return
		}
		verbosef("%v\n", f)
	})
	verbosef("load indexes\n")
	if err := c.LoadIndex(ctx); err != nil {
		return err
	}
	verbosef("check all packs\n")
	if err := c.Packs(ctx); err != nil {
		return err
	}
	verbosef("check snapshots, trees and blobs\n")
	if err := c.Structure(ctx); err != nil {
		return err
	}
	if subset != nil {
		packs := c.IndexedPacks()
		sel := subset.Select(packs, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
		verbosef("%s\n", describeSubset(o.ReadData, *subset, sel, packs))
		prog := newCounter(cmd.OutOrStdout(), g, len(sel), "packs")
		err := c.ReadPacks(ctx, sel, func() { prog.AddFiles(1) })
		prog.Finish()
		if err != nil {
			return err
		}
	}
	if c.Errors() > 0 {
		return errors.New("repository contains errors")
	}
	verbosef("no errors were found\n")
	return nil
}

// describeSubset is the line announcing which packs are read.
func describeSubset(all bool, s checker.Subset, sel []id.ID, packs map[id.ID]int64) string {
	var size int64
	for _, pid := range sel {
		size += packs[pid]
	}
	switch {
	case all:
		return "read all data"
	case s.Groups > 0:
		return fmt.Sprintf("read group #%d of %d data packs (out of total %d packs in %d groups)", s.Group, len(sel), len(packs), s.Groups)
	case s.Percent > 0:
		return fmt.Sprintf("read %.1f%% of data packs (%d of %d packs, %d bytes)", s.Percent, len(sel), len(packs), size)
	}
	return fmt.Sprintf("read %d bytes of data packs (%d of %d packs, chosen at random for a budget of %d bytes)", size, len(sel), len(packs), s.Bytes)
}
