package browse

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/snapshot"
)

// DefaultPathTemplates are restic's: where mount puts each snapshot.
var DefaultPathTemplates = []string{"ids/%i", "snapshots/%T", "hosts/%h/%T", "tags/%t/%T"}

// DefaultTimeTemplate formats %T, as restic's mount does.
const DefaultTimeTemplate = "2006-01-02T15:04:05Z07:00"

// LatestName is the symlink to the newest snapshot of a directory.
const LatestName = "latest"

// Dir is a directory of the layout: it holds directories, snapshots and
// "latest" links, sorted by name.
type Dir struct {
	ModTime time.Time // of the newest snapshot below
	Entries []*Entry  // sorted by name
}

// Entry is one name in a [Dir]: exactly one of Dir, Snapshot and Link is
// set.
type Entry struct {
	Name     string
	Dir      *Dir
	Snapshot *snapshot.Snapshot // the entry is the snapshot's root tree
	Link     string             // the entry is a symlink to this name
	ModTime  time.Time
}

// Lookup returns the entry called name, or nil.
func (d *Dir) Lookup(name string) *Entry {
	i, ok := slices.BinarySearchFunc(d.Entries, name, func(e *Entry, n string) int { return strings.Compare(e.Name, n) })
	if !ok {
		return nil
	}
	return d.Entries[i]
}

// Resolve follows the slash-separated path p through the layout's
// directories. It returns the entry p names (the root, as a directory
// entry, for "" or "/") and, when the walk reaches a snapshot before the
// end of p, the rest of p inside that snapshot's tree.
func (d *Dir) Resolve(p string) (*Entry, string, error) {
	e := &Entry{Dir: d, ModTime: d.ModTime}
	parts := splitPath(p)
	for i, name := range parts {
		if e.Snapshot != nil {
			return e, "/" + strings.Join(parts[i:], "/"), nil
		}
		if e.Dir == nil {
			return nil, "", fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		next := e.Dir.Lookup(name)
		if next == nil {
			return nil, "", fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		e = next
	}
	return e, "/", nil
}

// splitPath returns the non-empty components of a slash-separated path.
func splitPath(p string) []string {
	return slices.DeleteFunc(strings.Split(p, "/"), func(s string) bool { return s == "" })
}

// checkTemplates rejects path templates that could not place a snapshot:
// empty ones, and components that are empty, "." or "..".
func checkTemplates(templates []string) error {
	if len(templates) == 0 {
		return errors.New("no path templates")
	}
	for _, t := range templates {
		parts := strings.Split(strings.Trim(t, "/"), "/")
		for _, c := range parts {
			if c == "" || c == "." || c == ".." {
				return fmt.Errorf("path template %q: empty, \".\" or \"..\" component", t)
			}
		}
	}
	return nil
}

// expand returns the paths template t puts sn at: one per tag for a
// template with %t, none if sn has no tags. Slashes in the values become
// underscores, so that a value is always one component.
func expand(t string, sn *snapshot.Snapshot, timeFmt string) [][]string {
	tags := []string{""}
	if strings.Contains(t, "%t") {
		if len(sn.Tags) == 0 {
			return nil
		}
		tags = sn.Tags
	}
	clean := func(s string) string {
		s = strings.ReplaceAll(s, "/", "_")
		if s == "" || s == "." || s == ".." {
			s = "_" + s
		}
		return s
	}
	var out [][]string
	for _, tag := range tags {
		var parts []string
		for _, c := range strings.Split(strings.Trim(t, "/"), "/") {
			var b strings.Builder
			for i := 0; i < len(c); i++ {
				if c[i] != '%' || i+1 == len(c) {
					b.WriteByte(c[i])
					continue
				}
				i++
				switch c[i] {
				case 'i':
					b.WriteString(sn.ID.Str())
				case 'I':
					b.WriteString(sn.ID.String())
				case 'u':
					b.WriteString(sn.Username)
				case 'h':
					b.WriteString(sn.Hostname)
				case 't':
					b.WriteString(tag)
				case 'T':
					b.WriteString(sn.Time.Format(timeFmt))
				case '%':
					b.WriteByte('%')
				default:
					b.WriteByte('%')
					b.WriteByte(c[i])
				}
			}
			parts = append(parts, clean(b.String()))
		}
		out = append(out, parts)
	}
	return out
}

// buildDir is a directory while the layout is built.
type buildDir struct {
	entries map[string]*buildEntry
	newest  string // name of the newest snapshot entry, if it gets a link
}

type buildEntry struct {
	dir *buildDir
	sn  *snapshot.Snapshot
}

// buildLayout places snaps (oldest first) by the templates.
func buildLayout(snaps []*snapshot.Snapshot, templates []string, timeFmt string) *Dir {
	root := &buildDir{entries: map[string]*buildEntry{}}
	for _, sn := range snaps {
		for _, t := range templates {
		paths:
			for _, parts := range expand(t, sn, timeFmt) {
				d := root
				for _, name := range parts[:len(parts)-1] {
					e := d.entries[name]
					if e == nil {
						e = &buildEntry{dir: &buildDir{entries: map[string]*buildEntry{}}}
						d.entries[name] = e
					}
					if e.dir == nil {
						continue paths // a snapshot already has this name
					}
					d = e.dir
				}
				name := parts[len(parts)-1]
				for n := 1; ; n++ {
					e := d.entries[name]
					if e == nil || (e.sn != nil && e.sn.ID == sn.ID) {
						break
					}
					name = fmt.Sprintf("%s-%d", parts[len(parts)-1], n)
				}
				d.entries[name] = &buildEntry{sn: sn}
				timed := strings.Contains(t[strings.LastIndex(t, "/")+1:], "%T")
				if timed && (d.newest == "" || !sn.Time.Before(d.entries[d.newest].sn.Time)) {
					d.newest = name
				}
			}
		}
	}
	return root.finish()
}

func (b *buildDir) finish() *Dir {
	d := &Dir{}
	for name, e := range b.entries {
		out := &Entry{Name: name}
		if e.dir != nil {
			out.Dir = e.dir.finish()
			out.ModTime = out.Dir.ModTime
		} else {
			out.Snapshot = e.sn
			out.ModTime = e.sn.Time
		}
		if out.ModTime.After(d.ModTime) {
			d.ModTime = out.ModTime
		}
		d.Entries = append(d.Entries, out)
	}
	if b.newest != "" && b.entries[LatestName] == nil {
		d.Entries = append(d.Entries, &Entry{Name: LatestName, Link: b.newest, ModTime: b.entries[b.newest].sn.Time})
	}
	slices.SortFunc(d.Entries, func(a, b *Entry) int { return strings.Compare(a.Name, b.Name) })
	return d
}
