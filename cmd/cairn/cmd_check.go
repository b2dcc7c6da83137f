package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/cairn-backup/cairn/internal/checker"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

type checkOptions struct {
	filter         snapshotFilterFlags
	ReadData       bool
	ReadDataSubset string
	WithCache      bool
	// report gets the outcome for --metrics-file.
	report func(metrics.CheckResult)
}

func newCheckCommand(g *globalOptions) *cobra.Command {
	var o checkOptions
	var mf metricsFlag
	var result *metrics.CheckResult // for --metrics-file
	o.report = func(r metrics.CheckResult) { result = &r }
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

--host, --tag and --path restrict the snapshots whose trees are walked;
the index and the packs are always checked in full.

The exit code is 1 if the repository contains errors. Packs no index
references are reported, but are not errors. When something is wrong, the
last lines name the commands that repair it (repair index, repair packs,
repair snapshots, prune). With --json, errors are {"message_type":"error"}
lines on stderr and the summary is one line on stdout, as in restic.

Without --with-cache the local cache is neither read nor written, so that
what is checked is what the repository holds. The outcome (time, number
of errors) is kept in the repository's cache directory, also without
--with-cache (not with --no-cache), for the metrics of serve.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd, g, o)
		},
	}
	o.filter.add(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.ReadData, "read-data", false, "read all data blobs")
	f.StringVar(&o.ReadDataSubset, "read-data-subset", "", "read a `subset` of the packs: n/t, x% or a size")
	f.BoolVar(&o.WithCache, "with-cache", false, "use the local cache")
	mf.wrap(cmd, g, func(r metrics.Run) *prometheus.Registry {
		var errs int
		if result != nil {
			errs = result.Errors
		}
		return metrics.Check(r, errs)
	})
	return cmd
}

func runCheck(cmd *cobra.Command, g *globalOptions, o checkOptions) (err error) {
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
	keepResult := !g.NoCache // only an explicit --no-cache leaves the result out
	if !o.WithCache {
		g.NoCache = true
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	verbosef := func(format string, args ...any) {
		if !g.Quiet && !g.JSON {
			fmt.Fprintf(out, format, args...)
		}
	}
	// errorf prints an error line: a JSON error message under --json.
	errorf := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if g.JSON {
			printJSONLine(errOut, checkErrorJSON{MessageType: "error", Message: msg})
			return
		}
		fmt.Fprint(errOut, msg)
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
		switch {
		case f.Severity == checker.Error && g.JSON:
			errorf("%v\n", f)
			return
		case f.Severity == checker.Error:
			errorf("error: %v\n", f)
			return
		}
		verbosef("%v\n", f)
	})
	defer func() { g.checkFinished(repo, keepResult, c.Summary().Errors, subset != nil, err, o.report) }()
	filter := o.filter.filter()
	c.FilterSnapshots(filter.Match)
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
	sum := c.Summary()
	if g.JSON {
		broken := make([]string, len(sum.BrokenPacks))
		for i, pid := range sum.BrokenPacks {
			broken[i] = pid.String()
		}
		if len(broken) == 0 {
			broken = nil // restic prints null
		}
		if err := printJSONLine(out, checkSummaryJSON{
			MessageType: "summary", NumErrors: sum.Errors, BrokenPacks: broken,
			SuggestRepairIndex: sum.SuggestRepairIndex, SuggestPrune: sum.SuggestPrune,
		}); err != nil {
			return err
		}
	}
	if sum.Errors > 0 {
		errorf("%s", checkAdvice(sum))
		return errors.New("repository contains errors")
	}
	if tidy := checkTidyAdvice(sum); tidy != "" {
		verbosef("%s", tidy)
	}
	verbosef("no errors were found\n")
	return nil
}

// checkSummaryJSON is restic's check --json summary line.
type checkSummaryJSON struct {
	MessageType        string   `json:"message_type"` // "summary"
	NumErrors          int      `json:"num_errors"`
	BrokenPacks        []string `json:"broken_packs"`
	SuggestRepairIndex bool     `json:"suggest_repair_index"`
	SuggestPrune       bool     `json:"suggest_prune"`
}

// checkErrorJSON is an error line of check --json on stderr.
type checkErrorJSON struct {
	MessageType string `json:"message_type"` // "error"
	Message     string `json:"message"`
}

// printJSONLine writes v as one line of JSON.
func printJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// troubleshootingURL is restic's guide to repairing a repository, which
// applies to cairn's repair commands too.
const troubleshootingURL = "https://restic.readthedocs.io/en/stable/077_troubleshooting.html"

// checkAdvice tells what to run after a check that found damage.
func checkAdvice(sum checker.Summary) string {
	var b strings.Builder
	if len(sum.BrokenPacks) > 0 {
		fmt.Fprintf(&b, "\n%d pack files are damaged. Read the troubleshooting guide (%s),\n"+
			"then salvage what they still hold and drop the snapshots that lost data with:\n\n", len(sum.BrokenPacks), troubleshootingURL)
		ids := make([]string, len(sum.BrokenPacks))
		for i, pid := range sum.BrokenPacks {
			ids[i] = pid.String()
		}
		fmt.Fprintf(&b, "  cairn repair packs %s\n  cairn repair snapshots --forget\n\n", strings.Join(ids, " "))
		return b.String()
	}
	fmt.Fprintf(&b, "\nThe repository is damaged. Read the troubleshooting guide (%s); the usual order is:\n\n", troubleshootingURL)
	b.WriteString("  cairn repair index                 (rebuild the index from the pack files)\n")
	b.WriteString("  cairn repair snapshots --forget    (rewrite the snapshots that refer to lost data)\n")
	b.WriteString("  cairn check --read-data            (confirm)\n\n")
	return b.String()
}

// checkTidyAdvice names the commands that tidy a repository without
// errors, or is "".
func checkTidyAdvice(sum checker.Summary) string {
	var b strings.Builder
	if sum.SuggestRepairIndex {
		b.WriteString("run `cairn repair index` to write a clean index (non-critical)\n")
	}
	if sum.SuggestPrune {
		b.WriteString("run `cairn prune` to remove unused or duplicate data (non-critical)\n")
	}
	return b.String()
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
