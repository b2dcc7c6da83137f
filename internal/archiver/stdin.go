package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/chunker"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
)

// ErrNoData is reported when standard input holds nothing to back up.
var ErrNoData = errors.New("no data read")

// RunStdin backs up the bytes of rd as one file called name at the root of
// the snapshot, owned by the current user, mode 0644, timed now. Empty
// input is reported (ErrNoData) and gives an empty snapshot, as in restic.
func (a *Archiver) RunStdin(ctx context.Context, name string, rd io.Reader) (id.ID, Summary, error) {
	start := time.Now()
	node := &tree.Node{
		Name:       name,
		Type:       "file",
		Mode:       0o644,
		ModTime:    start,
		AccessTime: start,
		ChangeTime: start,
		UID:        uint32(os.Getuid()),
		GID:        uint32(os.Getgid()),
		Content:    []id.ID{},
	}
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		node.User = u.Username
	}
	a.prog.AddTotal(1, 0)
	a.prog.StartItem("/" + name)
	var st fileStats
	buf := make([]byte, 0, chunker.MaxSize)
	ch := chunker.New(rd, a.opts.Polynomial)
	for {
		c, err := ch.Next(buf[:0])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return id.ID{}, Summary{}, fmt.Errorf("read stdin: %w", err)
		}
		bid, known, stored, err := a.repo.SaveBlob(ctx, blob.Data, c.Data, id.ID{})
		if err != nil {
			return id.ID{}, Summary{}, err
		}
		if !known {
			st.added += uint64(len(c.Data))
			st.stored += uint64(stored)
		}
		a.prog.AddBytes(uint64(len(c.Data)))
		a.prog.AddTotal(0, uint64(len(c.Data)))
		node.Content = append(node.Content, bid)
		node.Size += uint64(len(c.Data))
	}
	t := &tree.Tree{}
	st.took = a.prog.DoneItem("/" + name)
	a.prog.ScanFinished()
	empty := node.Size == 0
	if empty {
		// As restic: no data is a problem, and the snapshot is empty.
		a.skip("/"+name, fmt.Errorf("failed to save /%s: read %s: %w", name, name, ErrNoData))
	} else if err := t.Insert(node); err != nil {
		return id.ID{}, Summary{}, err
	}
	root, _, _, err := a.saveTree(ctx, t, nil)
	if !empty {
		a.fileDone("/"+name, node.Size, FileNew, st)
	}
	a.mu.Lock()
	s := a.summary
	a.mu.Unlock()
	s.BackupStart, s.BackupEnd = start, time.Now()
	return root, s, err
}
