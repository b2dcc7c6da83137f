package tree

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
)

// NodeOptions change what [NodeOptions.NodeFromPath] records. The zero value
// records what `restic backup` records by default.
type NodeOptions struct {
	// WithAtime records the real access time, as `restic backup --with-atime`
	// does. Without it, atime is a copy of mtime.
	WithAtime bool

	// Location is the zone the times are given in; nil means time.Local,
	// which is what restic uses. The zone changes the bytes of a tree.
	Location *time.Location

	// IgnoreXattrErrors makes a failure to list or read extended attributes
	// silent: the node keeps the attributes that could be read, and no error
	// is returned.
	IgnoreXattrErrors bool
}

// NodeFromPath is NodeOptions{}.NodeFromPath: the node restic 0.14 records
// by default.
func NodeFromPath(path string, fi os.FileInfo) (*Node, error) {
	return NodeOptions{}.NodeFromPath(path, fi)
}

// nodeType maps Go's file mode type bits to a node type.
func nodeType(m os.FileMode) (string, error) {
	switch m & os.ModeType {
	case 0:
		return TypeFile, nil
	case os.ModeDir:
		return TypeDir, nil
	case os.ModeSymlink:
		return TypeSymlink, nil
	case os.ModeDevice | os.ModeCharDevice:
		return TypeCharDev, nil
	case os.ModeDevice:
		return TypeDev, nil
	case os.ModeNamedPipe:
		return TypeFifo, nil
	case os.ModeSocket:
		return TypeSocket, nil
	}
	return "", fmt.Errorf("unsupported file type %v", m.Type())
}

// newNode starts the node for a file of the given name and mode, with the
// fields every type shares.
func newNode(name string, mode os.FileMode) (*Node, error) {
	typ, err := nodeType(mode)
	if err != nil {
		return nil, err
	}
	n := &Node{Name: name, Type: typ, Mode: mode}
	if typ == TypeFile {
		// The caller appends the data blob IDs; an empty file keeps [].
		n.Content = []id.ID{}
	}
	return n, nil
}

// setTimes stores the three times in the zone of o, clamping years outside
// [0, 9999] the way restic does (it replaces the year in the local date and
// keeps month, day and clock; a February 29 moves to March 1).
func (o NodeOptions) setTimes(n *Node, mtime, atime, ctime time.Time) {
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	n.ModTime = clampYear(mtime.In(loc))
	n.ChangeTime = clampYear(ctime.In(loc))
	if o.WithAtime {
		n.AccessTime = clampYear(atime.In(loc))
	} else {
		n.AccessTime = n.ModTime
	}
}

func clampYear(t time.Time) time.Time {
	y := t.Year()
	switch {
	case y < 0:
		y = 0
	case y > 9999:
		y = 9999
	default:
		return t
	}
	return time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}

// Name lookups go through the system's user database, which can be slow
// (NSS, LDAP), so each ID is looked up once per process. The maps hold
// uint32 keys and string values; an ID without a name maps to "".
var userNames, groupNames sync.Map

// userName returns the name of uid, or "" if it has none.
func userName(uid uint32) string {
	if v, ok := userNames.Load(uid); ok {
		return v.(string)
	}
	var name string
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		name = u.Username
	}
	userNames.Store(uid, name)
	return name
}

// groupName returns the name of gid, or "" if it has none.
func groupName(gid uint32) string {
	if v, ok := groupNames.Load(gid); ok {
		return v.(string)
	}
	var name string
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		name = g.Name
	}
	groupNames.Store(gid, name)
	return name
}
