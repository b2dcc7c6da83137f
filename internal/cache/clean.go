package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
)

func dirOf(p string) string { return filepath.Dir(p) }

// typeDir is the cache directory of a file type.
func (c *Cache) typeDir(t backend.FileType) (string, bool) {
	switch t {
	case backend.PackFile:
		return filepath.Join(c.Dir, "data"), true
	case backend.IndexFile:
		return filepath.Join(c.Dir, "index"), true
	case backend.SnapshotFile:
		return filepath.Join(c.Dir, "snapshots"), true
	}
	return "", false
}

// entry is one file found by a walk of the cache.
type entry struct {
	path  string
	name  string
	size  int64
	mtime time.Time
}

// walk lists the files of type t: entries, and separately temporary and
// lock files. Anything that vanishes during the walk (another process
// cleaning up) is simply not listed.
func (c *Cache) walk(t backend.FileType) (entries, junk []entry) {
	dir, ok := c.typeDir(t)
	if !ok {
		return nil, nil
	}
	subs, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.warn("walk", fmt.Errorf("cache: %w", err))
		}
		return nil, nil
	}
	for _, s := range subs {
		if !s.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, s.Name()))
		if err != nil {
			continue // vanished or unreadable: nothing to do here
		}
		for _, f := range files {
			info, err := f.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			e := entry{path: filepath.Join(dir, s.Name(), f.Name()), name: f.Name(), size: info.Size(), mtime: info.ModTime()}
			if strings.HasPrefix(e.name, tmpPrefix) || strings.HasSuffix(e.name, lockSuffix) {
				junk = append(junk, e)
			} else {
				entries = append(entries, e)
			}
		}
	}
	return entries, junk
}

// Clear removes cached files of type t for which keep is false, except
// those younger than the grace period, and sweeps temporary and lock files
// older than TempMaxAge or written by a process of this host that is gone. A file another process removed first counts as
// removed. Clear never fails; problems are warnings.
func (c *Cache) Clear(t backend.FileType, keep func(name string) bool) {
	if c.Disabled() {
		return
	}
	entries, junk := c.walk(t)
	now := time.Now()
	for _, e := range entries {
		if keep(e.name) || now.Sub(e.mtime) < c.opts.Grace {
			continue
		}
		c.drop(e.path)
	}
	for _, e := range junk {
		if now.Sub(e.mtime) >= TempMaxAge || backend.TempWriterGone(e.name, tmpPrefix) {
			c.drop(e.path)
		}
	}
}

// addPackBytes accounts for a newly cached pack and, over the size bound,
// evicts least recently used packs.
func (c *Cache) addPackBytes(n int64) {
	if c.opts.MaxSize <= 0 {
		return
	}
	c.sizeMu.Lock()
	if !c.scanned {
		c.packSize, c.scanned = c.scanPackBytes(), true
	} else {
		c.packSize += n
	}
	over := c.packSize > c.opts.MaxSize
	c.sizeMu.Unlock()
	if over {
		c.evict()
	}
}

func (c *Cache) scanPackBytes() int64 {
	entries, _ := c.walk(backend.PackFile)
	var total int64
	for _, e := range entries {
		total += e.size
	}
	return total
}

// evict removes least recently used packs until the cached packs take at
// most 90 % of MaxSize. Usage is the file's mtime, which a cache hit sets.
func (c *Cache) evict() {
	entries, _ := c.walk(backend.PackFile)
	sort.Slice(entries, func(i, j int) bool { return entries[i].mtime.Before(entries[j].mtime) })
	var total int64
	for _, e := range entries {
		total += e.size
	}
	limit := c.opts.MaxSize * 9 / 10
	for _, e := range entries {
		if total <= limit {
			break
		}
		c.drop(e.path)
		total -= e.size
		c.debug("cache evicted", "path", e.path, "size", e.size)
	}
	c.sizeMu.Lock()
	c.packSize = total
	c.sizeMu.Unlock()
}

// DirInfo describes one repository directory in a cache base.
type DirInfo struct {
	ID       string
	Path     string
	LastUsed time.Time
	Size     int64 // -1 when not computed
}

// Old reports whether the directory is unused for longer than maxAge.
func (d DirInfo) Old(maxAge time.Duration) bool { return time.Since(d.LastUsed) > maxAge }

// ListDirs lists the repository directories in base, with their sizes if
// withSize. Entries vanishing meanwhile are skipped.
func ListDirs(base string, withSize bool) ([]DirInfo, error) {
	entries, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []DirInfo
	for _, e := range entries {
		if !e.IsDir() || !repoIDPattern.MatchString(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		d := DirInfo{ID: e.Name(), Path: filepath.Join(base, e.Name()), LastUsed: info.ModTime(), Size: -1}
		if withSize {
			d.Size = dirSize(d.Path)
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsed.Before(out[j].LastUsed) })
	return out, nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished: skip
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// RemoveDir deletes a repository cache directory. It is first renamed out
// of the way, atomically, so that a process starting to use the directory
// at the same moment gets a fresh one rather than a half-deleted one.
func RemoveDir(d DirInfo) error {
	doomed := d.Path + removingMarker + fmt.Sprint(time.Now().UnixNano())
	if err := os.Rename(d.Path, doomed); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return removeAll(doomed)
}

// removingMarker joins a repository ID and a time in the name RemoveDir
// gives a directory it is about to delete.
const removingMarker = ".removing-"

// removingPattern matches the names of directories RemoveDir renamed:
// "<repo-id>.removing-<unix ns>".
var removingPattern = regexp.MustCompile(`^[a-fA-F0-9]{64}\.removing-[0-9]+$`)

// removeAll deletes dir and everything in it; a dir already gone is no
// error, so two removers of one dir both succeed. A process whose path
// lookup began before RemoveDir's rename may still create a file in the
// renamed directory after RemoveAll has listed it ("directory not
// empty"); new lookups find the old name, so a few more passes get
// everything.
func removeAll(dir string) error {
	var err error
	for range 5 {
		if err = os.RemoveAll(dir); err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	return err
}

// RemoveLeftovers deletes the directories in base that a RemoveDir cut
// off (by a kill or a crash) left under their "<repo-id>.removing-<ns>"
// name: no process uses them, and neither cairn's nor restic's listing
// knows them. It returns how many it removed; another process removing
// the same directory at the same time is no error. A missing base has
// none.
func RemoveLeftovers(base string) (int, error) {
	entries, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !removingPattern.MatchString(e.Name()) {
			continue
		}
		if err := removeAll(filepath.Join(base, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
