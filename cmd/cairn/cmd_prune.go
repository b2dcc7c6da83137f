package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/metrics"
	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// pruneFlags are the options prune shares with forget --prune.
type pruneFlags struct {
	MaxUnused           string
	MaxRepackSize       string
	RepackCacheableOnly bool
	RepackSmall         bool
	RepackUncompressed  bool
	RepackSmallerThan   string
	PackSize            uint
	Exclusive           bool
	Grace               time.Duration
}

func (p *pruneFlags) add(f *pflag.FlagSet) {
	f.StringVar(&p.MaxUnused, "max-unused", "5%", "tolerate given `limit` of unused data (a size with suffix k/K, m/M, g/G, t/T, a percentage, or 'unlimited')")
	f.StringVar(&p.MaxRepackSize, "max-repack-size", "", "maximum `size` to repack (suffixes k/K, m/M, g/G, t/T)")
	f.BoolVar(&p.RepackCacheableOnly, "repack-cacheable-only", false, "only repack packs which are cacheable (tree packs)")
	f.BoolVar(&p.RepackSmall, "repack-small", false, "repack pack files below 80% of target pack size")
	f.BoolVar(&p.RepackUncompressed, "repack-uncompressed", false, "repack all uncompressed data")
	f.StringVar(&p.RepackSmallerThan, "repack-smaller-than", "", "pack `below-limit` packfiles (allowed suffixes: k/K, m/M)")
	f.UintVar(&p.PackSize, "pack-size", 0, "target size of repacked packs in `MiB` (default: $CAIRN_PACK_SIZE, $RESTIC_PACK_SIZE, 16)")
	f.BoolVar(&p.Exclusive, "exclusive", false, "prune in one phase under an exclusive lock, deleting packs at once (backups wait or fail meanwhile, as with restic)")
	f.DurationVar(&p.Grace, "grace", 5*time.Minute, "wait at least `duration` after the index swap before deleting packs that running processes may still use")
}

// lockMode is the lock pruning with these flags takes.
func (p *pruneFlags) lockMode() lockMode {
	if p.Exclusive {
		return lockExclusive
	}
	return lockPrune
}

// options checks the flags and turns them into prune options.
func (p *pruneFlags) options(g *globalOptions) (prune.Options, error) {
	o := prune.Options{MaxRepackBytes: -1, RepackCacheableOnly: p.RepackCacheableOnly, RepackSmall: p.RepackSmall, RepackUncompressed: p.RepackUncompressed,
		Exclusive: p.Exclusive, Grace: p.Grace}
	if p.Grace < 0 {
		return o, errors.New("--grace must not be negative")
	}
	var err error
	if o.MaxUnused, err = prune.ParseLimit(p.MaxUnused, ui.ParseSize); err != nil {
		return o, fmt.Errorf("--max-unused: %w", err)
	}
	if p.MaxRepackSize != "" {
		if o.MaxRepackBytes, err = ui.ParseSize(p.MaxRepackSize); err != nil {
			return o, fmt.Errorf("--max-repack-size: %w", err)
		}
	}
	if o.PackSize, err = packSizeBytes(p.PackSize); err != nil {
		return o, err
	}
	if p.RepackSmallerThan != "" {
		if o.RepackSmallerThan, err = ui.ParseSize(p.RepackSmallerThan); err != nil {
			return o, fmt.Errorf("--repack-smaller-than: %w", err)
		}
		target := int64(o.PackSize)
		if target == 0 {
			target = repository.DefaultPackSize
		}
		if o.RepackSmallerThan > target {
			return o, fmt.Errorf("--repack-smaller-than %s exceeds the target pack size (%s)", p.RepackSmallerThan, ui.FormatBytes(uint64(target)))
		}
	}
	if p.RepackUncompressed {
		ro, err := g.repoOptions()
		if err != nil {
			return o, err
		}
		if ro.Compression == repository.CompressionOff {
			return o, errors.New("disabled compression and --repack-uncompressed are mutually exclusive")
		}
	}
	return o, nil
}

func newPruneCommand(g *globalOptions) *cobra.Command {
	var f pruneFlags
	var dryRun, finish bool
	var unsafeRecover string
	var mf metricsFlag
	var sum *pruneSummaryJSON // for --metrics-file
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove data no snapshot needs",
		Long: `Remove data no snapshot needs: delete pack files whose blobs are all unused,
and repack partly used ones (writing their used blobs into new packs) until
the unused space is below --max-unused. The repository stays valid if prune
is interrupted at any point; the next run finishes the job.

Prune runs beside backups of cairn and restic, in two phases: it writes the
new index and condemns the packs to delete; they are deleted once every
process that held a lock at that moment has finished and --grace has passed,
at once if nothing else held a lock, else by the next prune (or prune
--finish). --exclusive prunes in one phase under an exclusive lock, as
restic does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options(g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			repo, ctx, release, err := g.openLocked(ctx, f.lockMode(), dryRun)
			if err != nil {
				return err
			}
			defer release()
			if unsafeRecover != "" {
				// restic's recovery mode deletes the index before
				// repacking; cairn does not offer it (yet).
				if rid := repo.Config().ID; unsafeRecover != rid {
					return fmt.Errorf("must pass id '%s' to --unsafe-recover-no-free-space", rid)
				}
				return errors.New("--unsafe-recover-no-free-space is not supported by cairn; free some space on the backend, or try prune --max-repack-size 0")
			}
			if finish {
				return runPruneFinish(ctx, g, cmd.OutOrStdout(), repo, o, dryRun)
			}
			return runPruneWith(ctx, g, cmd.OutOrStdout(), g.JSON, repo, o, dryRun, nil, func(s pruneSummaryJSON) { sum = &s })
		},
	}
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "do not modify the repository, just print what would be done")
	cmd.Flags().BoolVar(&finish, "finish", false, "only finish earlier prunes: delete the packs they condemned where that is safe now")
	cmd.Flags().StringVar(&unsafeRecover, "unsafe-recover-no-free-space", "", "UNSAFE in restic; in cairn only checks its `repository-id` argument and refuses (see prune --help)")
	f.add(cmd.Flags())
	mf.wrap(cmd, g, func(r metrics.Run) *prometheus.Registry { return metrics.Prune(r, pruneFigures(sum)) })
	return cmd
}

// runPruneWith prunes an open repository under a prune lock (an exclusive
// one with o.Exclusive). The
// snapshots in ignore count as deleted (forget --dry-run --prune). With
// asJSON, w gets only the summary line of docs/json.md. report, when not
// nil, gets that summary after a successful run.
func runPruneWith(ctx context.Context, g *globalOptions, w io.Writer, asJSON bool, repo *repository.Repository, o prune.Options, dryRun bool, ignore id.Set, report func(pruneSummaryJSON)) (err error) {
	quiet := g.Quiet || asJSON
	if o.RepackUncompressed && repo.Config().Version < 2 {
		return errors.New("--repack-uncompressed: compression requires at least repository format version 2")
	}
	log := stepLogger(w, quiet)
	_, fin, err := finishPending(ctx, repo, o, dryRun, log)
	if err != nil {
		return err
	}
	p, err := prune.Prepare(ctx, repo, o, ignore, log)
	if err != nil {
		return damagedHint(err)
	}
	for _, m := range p.Missing {
		g.warnf("pack %s is in the index but missing from the repository; it is not needed and will be left out of the index", m.Str())
	}
	if n := p.Stats.Packs.Damaged; n > 0 {
		g.warnf("%d packs do not have the size the index implies; their blobs are not needed, so they will be deleted", n)
	}
	if !quiet {
		printPruneStats(w, p.Stats)
	}
	sum := newPruneSummary(p.Stats, dryRun)
	sum.addFinish(fin)
	if report != nil {
		defer func() {
			if err == nil {
				report(sum)
			}
		}()
	}
	if dryRun {
		if asJSON {
			return printJSONLine(w, sum)
		}
		if !quiet {
			fmt.Fprintf(w, "would delete %d stale temporary files and %d unreferenced packs, repack %d packs and delete %d packs\n",
				len(p.TempFiles), len(p.Unreferenced), len(p.Repack), len(p.Remove))
		}
		return nil
	}
	o.RepackProgress = func(n int) *ui.Progress { return newCounter(w, g, n, "packs repacked") }
	res, err := prune.Execute(ctx, repo, p, o, log)
	if err != nil {
		return err
	}
	sum.TempFilesRemoved, sum.RepackedBlobs, sum.NewPacks = res.TempFiles, res.RepackedBlobs, res.NewPacks
	sum.NewIndexFiles, sum.RemovedIndexFiles, sum.RemovedPacks = res.NewIndexFiles, res.RemovedIndexFiles, sum.RemovedPacks+res.RemovedPacks+res.UnreferencedPacks
	sum.CondemnedPacks = res.Condemned
	sum.ReindexedPacks += res.Finish.Reindexed // its deletions are in res.RemovedPacks
	if asJSON {
		return printJSONLine(w, sum)
	}
	if !quiet {
		fmt.Fprintf(w, "done: repacked %d blobs into %d new packs, wrote %d index files, deleted %d old index files and %d packs\n",
			res.RepackedBlobs, res.NewPacks, res.NewIndexFiles, res.RemovedIndexFiles, sum.RemovedPacks)
		if waiting := res.Condemned - res.Finish.Deleted - res.Finish.Reindexed; waiting > 0 {
			fmt.Fprintf(w, "%d condemned packs wait until the processes that held locks at the index swap are gone; the next prune (or prune --finish) deletes them\n", waiting)
		}
	}
	return nil
}

// stepLogger prints prune's step lines on w, unless quiet.
func stepLogger(w io.Writer, quiet bool) func(string, ...any) {
	return func(format string, args ...any) {
		if !quiet {
			fmt.Fprintf(w, format+"\n", args...)
		}
	}
}

// finishPending loads the index and carries out phase 2 of the pending
// records in it (not in a dry run, which only counts them). It returns the
// index for Prepare, or nil when finishing changed it.
func finishPending(ctx context.Context, repo *repository.Repository, o prune.Options, dryRun bool, log func(string, ...any)) (*repository.PruneIndex, prune.FinishResult, error) {
	idx, err := repo.LoadPruneIndex(ctx)
	if err != nil {
		return nil, prune.FinishResult{}, err
	}
	if len(idx.Pending) == 0 {
		return idx, prune.FinishResult{}, nil
	}
	if dryRun {
		log("%d earlier prunes are pending; prune --finish would try to finish them", len(idx.Pending))
		return idx, prune.FinishResult{Records: len(idx.Pending), Waiting: len(idx.Pending)}, nil
	}
	fin, err := prune.Finish(ctx, repo, idx, prune.FinishOptions{Grace: o.Grace, Force: o.Exclusive}, log)
	if err != nil {
		return nil, fin, err
	}
	if fin.Changed {
		idx = nil
	}
	return idx, fin, nil
}

// runPruneFinish is prune --finish: phase 2 of pending records only.
func runPruneFinish(ctx context.Context, g *globalOptions, w io.Writer, repo *repository.Repository, o prune.Options, dryRun bool) error {
	log := stepLogger(w, g.Quiet || g.JSON)
	_, fin, err := finishPending(ctx, repo, o, dryRun, log)
	if err != nil {
		return err
	}
	if g.JSON {
		sum := pruneSummaryJSON{MessageType: "summary", DryRun: dryRun}
		sum.addFinish(fin)
		return printJSONLine(w, sum)
	}
	log("finished %d of %d pending prunes: deleted %d packs, indexed %d again; %d wait", fin.Finished, fin.Records, fin.Deleted, fin.Reindexed, fin.Waiting)
	return nil
}

// pruneSummaryJSON is cairn's prune --json summary (restic 0.19.1 has no
// JSON for prune): the plan's figures in bytes as stored, and what was done.
type pruneSummaryJSON struct {
	MessageType        string `json:"message_type"` // "summary"
	DryRun             bool   `json:"dry_run"`
	BlobsUsed          uint64 `json:"blobs_used"`
	BytesUsed          uint64 `json:"bytes_used"`
	BlobsDuplicate     uint64 `json:"blobs_duplicate"`
	BytesDuplicate     uint64 `json:"bytes_duplicate"`
	BlobsUnused        uint64 `json:"blobs_unused"`
	BytesUnused        uint64 `json:"bytes_unused"`
	BytesUnreferenced  uint64 `json:"bytes_unreferenced"`
	BlobsRepack        uint64 `json:"blobs_repack"`
	BytesRepack        uint64 `json:"bytes_repack"`
	BlobsRepackRemoved uint64 `json:"blobs_repack_removed"`
	BytesRepackRemoved uint64 `json:"bytes_repack_removed"`
	BlobsRemove        uint64 `json:"blobs_remove"`
	BytesRemove        uint64 `json:"bytes_remove"`
	BlobsRemaining     uint64 `json:"blobs_remaining"`
	BytesRemaining     uint64 `json:"bytes_remaining"`
	BytesUnusedAfter   uint64 `json:"bytes_unused_after"`
	PacksKeep          uint64 `json:"packs_keep"`
	PacksRepack        uint64 `json:"packs_repack"`
	PacksRemove        uint64 `json:"packs_remove"`
	PacksUnreferenced  uint64 `json:"packs_unreferenced"`
	// What was done; 0 in a dry run.
	TempFilesRemoved  int `json:"temp_files_removed"`
	RepackedBlobs     int `json:"repacked_blobs"`
	NewPacks          int `json:"new_packs"`
	NewIndexFiles     int `json:"new_index_files"`
	RemovedIndexFiles int `json:"removed_index_files"`
	RemovedPacks      int `json:"removed_packs"`
	// Two phases: packs condemned by this run, pending records of earlier
	// runs found, finished and still waiting, and packs they indexed again.
	CondemnedPacks int `json:"condemned_packs"`
	PendingPrunes  int `json:"pending_prunes"`
	FinishedPrunes int `json:"finished_prunes"`
	WaitingPrunes  int `json:"waiting_prunes"`
	ReindexedPacks int `json:"reindexed_packs"`
}

// addFinish adds what finishing pending records did.
func (s *pruneSummaryJSON) addFinish(f prune.FinishResult) {
	s.PendingPrunes += f.Records
	s.FinishedPrunes += f.Finished
	s.WaitingPrunes += f.Waiting
	s.ReindexedPacks += f.Reindexed
	s.RemovedPacks += f.Deleted
}

func newPruneSummary(s prune.Stats, dryRun bool) pruneSummaryJSON {
	return pruneSummaryJSON{
		MessageType: "summary", DryRun: dryRun,
		BlobsUsed: s.Blobs.Used, BytesUsed: s.Size.Used,
		BlobsDuplicate: s.Blobs.Duplicate, BytesDuplicate: s.Size.Duplicate,
		BlobsUnused: s.Blobs.Unused, BytesUnused: s.Size.Unused, BytesUnreferenced: s.UnrefSize,
		BlobsRepack: s.Blobs.Repack, BytesRepack: s.Size.Repack,
		BlobsRepackRemoved: s.Blobs.RepackRemove, BytesRepackRemoved: s.Size.RepackRemove,
		BlobsRemove: s.Blobs.Remove, BytesRemove: s.Size.Remove + s.UnrefSize,
		BlobsRemaining: s.TotalBlobs() - s.PruneBlobs(), BytesRemaining: s.TotalSize() - s.PruneSize(),
		BytesUnusedAfter: s.UnusedAfter(),
		PacksKeep:        uint64(s.Packs.Keep), PacksRepack: uint64(s.Packs.Repack),
		PacksRemove: uint64(s.Packs.Remove), PacksUnreferenced: uint64(s.Packs.Unref),
	}
}

// formatPercent prints n of total as restic does ("12.34%").
func formatPercent(n, total uint64) string {
	if total == 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%3.2f%%", min(100, 100*float64(n)/float64(total)))
}

// printPruneStats prints a plan's figures in restic's layout.
func printPruneStats(w io.Writer, s prune.Stats) {
	fmt.Fprintf(w, "\nused:         %10d blobs / %s\n", s.Blobs.Used, ui.FormatBytes(s.Size.Used))
	if s.Blobs.Duplicate > 0 {
		fmt.Fprintf(w, "duplicates:   %10d blobs / %s\n", s.Blobs.Duplicate, ui.FormatBytes(s.Size.Duplicate))
	}
	fmt.Fprintf(w, "unused:       %10d blobs / %s\n", s.Blobs.Unused, ui.FormatBytes(s.Size.Unused))
	if s.UnrefSize > 0 {
		fmt.Fprintf(w, "unreferenced:                    %s\n", ui.FormatBytes(s.UnrefSize))
	}
	total := s.TotalSize()
	fmt.Fprintf(w, "total:        %10d blobs / %s\n", s.TotalBlobs(), ui.FormatBytes(total))
	fmt.Fprintf(w, "unused size: %s of total size\n", formatPercent(s.Size.Duplicate+s.Size.Unused+s.UnrefSize, total))

	fmt.Fprintf(w, "\nto repack:    %10d blobs / %s\n", s.Blobs.Repack, ui.FormatBytes(s.Size.Repack))
	fmt.Fprintf(w, "this removes: %10d blobs / %s\n", s.Blobs.RepackRemove, ui.FormatBytes(s.Size.RepackRemove))
	fmt.Fprintf(w, "to delete:    %10d blobs / %s\n", s.Blobs.Remove, ui.FormatBytes(s.Size.Remove+s.UnrefSize))
	fmt.Fprintf(w, "total prune:  %10d blobs / %s\n", s.PruneBlobs(), ui.FormatBytes(s.PruneSize()))
	remaining := total - s.PruneSize()
	fmt.Fprintf(w, "remaining:    %10d blobs / %s\n", s.TotalBlobs()-s.PruneBlobs(), ui.FormatBytes(remaining))
	fmt.Fprintf(w, "unused size after prune: %s (%s of remaining size)\n\n", ui.FormatBytes(s.UnusedAfter()), formatPercent(s.UnusedAfter(), remaining))

	fmt.Fprintf(w, "totally used packs: %10d\n", s.Packs.Used)
	fmt.Fprintf(w, "partly used packs:  %10d\n", s.Packs.PartlyUsed)
	fmt.Fprintf(w, "unused packs:       %10d\n\n", s.Packs.Unused)
	fmt.Fprintf(w, "to keep:      %10d packs\n", s.Packs.Keep)
	fmt.Fprintf(w, "to repack:    %10d packs\n", s.Packs.Repack)
	fmt.Fprintf(w, "to delete:    %10d packs\n", s.Packs.Remove)
	if s.Packs.Unref > 0 {
		fmt.Fprintf(w, "to delete:    %10d unreferenced packs\n", s.Packs.Unref)
	}
	fmt.Fprintln(w)
}
