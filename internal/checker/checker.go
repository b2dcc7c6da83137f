package checker

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/prune"
	"github.com/cairn-backup/cairn/internal/repository"
	"github.com/cairn-backup/cairn/internal/snapshot"
	"golang.org/x/sync/errgroup"
)

// Severity tells whether a finding means damage.
type Severity uint8

const (
	// Hint is worth knowing but loses no data (unreferenced packs,
	// duplicates).
	Hint Severity = iota
	// Error means data is missing or damaged.
	Error
)

// Finding is one thing a check noticed: what (Object, such as "pack
// <id>") and what is wrong with it.
type Finding struct {
	Severity Severity
	Object   string // empty for a summary line
	Msg      string
}

func (f Finding) String() string {
	if f.Object == "" {
		return f.Msg
	}
	return f.Object + ": " + f.Msg
}

// Checker runs the phases of a check on one repository. Its methods must
// be called in the order LoadIndex, Packs, Structure, ReadPacks (each may
// be left out except LoadIndex), from one goroutine.
type Checker struct {
	repo *repository.Repository

	mu     sync.Mutex    // serializes report and guards errors
	report func(Finding) // guarded by mu
	errors int           // guarded by mu

	idx       *repository.IndexContents // set by LoadIndex
	listed    map[id.ID]int64           // pack files in the backend, set by Packs
	missing   id.Set                    // indexed packs not in the backend, set by Packs
	badHeader id.Set                    // packs whose header Packs found unusable
	condemned id.Set                    // packs pending prunes condemned, set by LoadIndex

	snapFilter func(*snapshot.Snapshot) bool // nil: every snapshot; set by FilterSnapshots

	broken       id.Set // guarded by mu: packs ReadPacks found damaged
	suggestIndex bool   // guarded by mu: the index needs rewriting
	suggestPrune bool   // guarded by mu: prune would tidy the repository
	checkedSnaps int    // snapshots Structure walked; written by Structure only
}

// Summary is what a check found, for the advice at its end: restic's
// check summary.
type Summary struct {
	// Errors is the number of findings of severity Error.
	Errors int
	// BrokenPacks are the packs ReadPacks found damaged (content, header
	// or blobs), sorted: what `repair packs` salvages. Missing packs are
	// not among them.
	BrokenPacks []id.ID
	// SuggestRepairIndex: the index files are damaged or untidy (unusable
	// index files, packs listed by several), and rewriting the index from
	// the packs would fix that.
	SuggestRepairIndex bool
	// SuggestPrune: the repository holds data prune would remove (packs
	// no index lists, blobs stored twice, packs mixing tree and data).
	SuggestPrune bool
	// Snapshots is how many snapshots Structure walked.
	Snapshots int
}

// Summary returns what the check found so far.
func (c *Checker) Summary() Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Summary{
		Errors:             c.errors,
		BrokenPacks:        sortedIDs(c.broken),
		SuggestRepairIndex: c.suggestIndex,
		SuggestPrune:       c.suggestPrune,
		Snapshots:          c.checkedSnaps,
	}
}

// FilterSnapshots makes Structure walk only the snapshots keep accepts
// (restic's check --host, --tag and --path). Call it before Structure.
func (c *Checker) FilterSnapshots(keep func(*snapshot.Snapshot) bool) {
	c.snapFilter = keep
}

func (c *Checker) markBroken(pid id.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.broken.Insert(pid)
}

func (c *Checker) suggest(index, prune bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.suggestIndex = c.suggestIndex || index
	c.suggestPrune = c.suggestPrune || prune
}

// New returns a checker of repo that passes each finding to report, one
// call at a time.
func New(repo *repository.Repository, report func(Finding)) *Checker {
	return &Checker{repo: repo, report: report, badHeader: id.NewSet(), missing: id.NewSet(), broken: id.NewSet()}
}

// Errors returns the number of findings of severity Error so far.
func (c *Checker) Errors() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errors
}

func (c *Checker) emit(f Finding) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.Severity == Error {
		c.errors++
	}
	c.report(f)
}

func (c *Checker) errorf(object, format string, args ...any) {
	c.emit(Finding{Severity: Error, Object: object, Msg: fmt.Sprintf(format, args...)})
}

func (c *Checker) hintf(object, format string, args ...any) {
	c.emit(Finding{Severity: Hint, Object: object, Msg: fmt.Sprintf(format, args...)})
}

func packObject(pid id.ID) string { return "pack " + pid.String() }

// sortedIDs returns the keys of m in byte order, for stable output.
func sortedIDs[V any](m map[id.ID]V) []id.ID {
	return slices.SortedFunc(maps.Keys(m), func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
}

// shortList joins the short forms of ids, naming at most three.
func shortList(ids []id.ID) string {
	var parts []string
	for i, v := range ids {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ids)-3))
			break
		}
		parts = append(parts, v.Str())
	}
	return strings.Join(parts, ", ")
}

// LoadIndex reads all index files and makes the usable ones the
// repository's index. Unusable index files are errors; packs named by
// several index files, packs mixing tree and data blobs and blobs stored
// more than once are hints. The error is about listing, or ctx.
func (c *Checker) LoadIndex(ctx context.Context) error {
	idx, err := c.repo.LoadIndexForCheck(ctx)
	if err != nil {
		return err
	}
	c.idx = idx
	c.condemned = id.NewSet()
	for _, pr := range idx.Pending {
		rec, err := prune.DecodeRecord(pr.Record)
		if err != nil {
			c.hintf("index "+pr.ID.String(), "pending prune record: %v", err)
			continue
		}
		for _, pid := range rec.PackIDs() {
			c.condemned.Insert(pid)
		}
		swap := "not confirmed yet (the prune stopped before it)"
		if !rec.Swapped.IsZero() {
			swap = fmt.Sprintf("at %s, when %d other processes held locks", rec.Swapped.Local().Format(time.DateTime), len(rec.Holders))
		}
		c.hintf("", "pending prune %s: %d condemned packs wait for deletion by the next prune (or prune --finish); the index swap was %s, "+
			"and they are deleted once every one of those processes is gone and the grace period has passed", pr.ID.Str(), len(rec.PackIDs()), swap)
	}
	for _, bad := range idx.Bad {
		c.suggest(true, false)
		c.errorf("index "+bad.ID.String(), "%v", bad.Err)
	}

	dupPacks, mixed := 0, 0
	for _, pid := range idx.PackIDs() {
		if files := idx.IndexFiles[pid]; len(files) > 1 {
			dupPacks++
			c.hintf(packObject(pid), "listed in %d index files (%s)", len(files), shortList(files))
		}
		hasData, hasTree := false, false
		for _, b := range idx.PackBlobs(pid) {
			hasData = hasData || b.Handle.Type == blob.Data
			hasTree = hasTree || b.Handle.Type == blob.Tree
		}
		if hasData && hasTree {
			mixed++
			c.hintf(packObject(pid), "holds both tree and data blobs")
		}
	}
	if dupPacks > 0 {
		c.suggest(true, false)
		c.hintf("", "packs listed in several index files are non-critical; repairing the index writes a clean one")
	}
	if mixed > 0 {
		c.suggest(false, true)
		c.hintf("", "packs mixing tree and data blobs are non-critical; prune repacks them")
	}
	if dupBlobs := idx.DuplicateBlobs(); dupBlobs > 0 {
		c.suggest(false, true)
		c.hintf("", "%d blobs are stored in more than one pack; this is non-critical, prune removes the extra copies", dupBlobs)
	}
	return nil
}

// Packs compares the index with the pack files in the backend. A pack the
// index names must exist, have the size its blobs and header add up to,
// and have a header that lists exactly the blobs the index has for it;
// anything else is an error. Pack files no index names are hints. The
// error is about listing, or ctx.
func (c *Checker) Packs(ctx context.Context) error {
	c.listed = make(map[id.ID]int64)
	err := c.repo.ListFiles(ctx, backend.PackFile, func(fi backend.FileInfo) error {
		if pid, err := id.Parse(fi.Name); err == nil {
			c.listed[pid] = fi.Size
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list packs: %w", err)
	}

	var present []id.ID
	for _, pid := range c.idx.PackIDs() {
		size, ok := c.listed[pid]
		if !ok {
			c.missing.Insert(pid)
			c.errorf(packObject(pid), "does not exist")
			continue
		}
		if want := repository.PackSize(c.idx.PackBlobs(pid)); size != want {
			c.errorf(packObject(pid), "file size is %d bytes, the index expects %d", size, want)
		}
		present = append(present, pid)
	}
	if err := c.checkHeaders(ctx, present); err != nil {
		return err
	}

	unreferenced := 0
	for _, pid := range sortedIDs(c.listed) {
		if !c.idx.HasPack(pid) && !c.condemned.Has(pid) {
			unreferenced++
			c.hintf(packObject(pid), "not referenced in any index")
		}
	}
	if unreferenced > 0 {
		c.suggest(false, true)
		c.hintf("", "%d pack files are not referenced by any index. This is non-critical on its own: they hold unused\n"+
			"or duplicate data, or data whose index was lost (repairing the index lists them again, prune removes unused ones)", unreferenced)
	}
	return nil
}

// checkHeaders reads the headers of packs concurrently and compares each
// with the index, reporting in pack order.
func (c *Checker) checkHeaders(ctx context.Context, packs []id.ID) error {
	diffs := make([][]string, len(packs))
	errs := make([]error, len(packs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, c.repo.Connections()))
	for i, pid := range packs {
		g.Go(func() error {
			blobs, err := c.repo.ReadPackHeader(gctx, pid, c.listed[pid])
			if err != nil {
				errs[i] = err
				return nil
			}
			diffs[i] = compareBlobs(c.idx.PackBlobs(pid), blobs)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, pid := range packs {
		if errs[i] != nil {
			c.badHeader.Insert(pid)
			c.errorf(packObject(pid), "header: %v", errs[i])
			continue
		}
		for _, d := range diffs[i] {
			c.errorf(packObject(pid), "%s", d)
		}
	}
	return nil
}

// maxDiffs is how many differences between a pack header and the index
// are reported one by one.
const maxDiffs = 5

// compareBlobs describes how the index's blobs of a pack differ from those
// its header lists.
func compareBlobs(indexed, header []blob.Blob) []string {
	inHeader := make(map[blob.Blob]bool, len(header))
	for _, b := range header {
		inHeader[b] = true
	}
	inIndex := make(map[blob.Blob]bool, len(indexed))
	for _, b := range indexed {
		inIndex[b] = true
	}
	var diffs []string
	for _, b := range indexed {
		if !inHeader[b] {
			diffs = append(diffs, fmt.Sprintf("%v blob %v (offset %d, length %d) is in the index but not in the pack header", b.Handle.Type, b.Handle.ID, b.Offset, b.Length))
		}
	}
	for _, b := range header {
		if !inIndex[b] {
			diffs = append(diffs, fmt.Sprintf("%v blob %v (offset %d, length %d) is in the pack header but not in the index", b.Handle.Type, b.Handle.ID, b.Offset, b.Length))
		}
	}
	if len(diffs) > maxDiffs {
		n := len(diffs) - maxDiffs
		diffs = append(diffs[:maxDiffs], fmt.Sprintf("and %d more differences between the pack header and the index", n))
	}
	return diffs
}

// lost reports whether every copy of blob h is in a missing pack, and
// names those packs.
func (c *Checker) lost(h blob.Handle) (bool, []id.ID) {
	if len(c.missing) == 0 {
		return false, nil
	}
	var packs []id.ID
	for _, l := range c.repo.Locate(h) {
		if !c.missing.Has(l.PackID) {
			return false, nil
		}
		packs = append(packs, l.PackID)
	}
	return len(packs) > 0, packs
}

// IndexedPacks returns the packs the index names that exist in the
// backend, with their sizes: the packs ReadPacks can read. Call it after
// Packs.
func (c *Checker) IndexedPacks() map[id.ID]int64 {
	out := make(map[id.ID]int64, len(c.idx.PackIDs()))
	for _, pid := range c.idx.PackIDs() {
		if size, ok := c.listed[pid]; ok {
			out[pid] = size
		}
	}
	return out
}
