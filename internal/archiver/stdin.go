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
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/tree"
	"github.com/restic/chunker"
)

// RunStdin backs up the bytes of rd as one file called name at the root of
// the snapshot, owned by the current user, mode 0644, timed now.
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
		bid, _, _, err := a.repo.SaveBlob(ctx, blob.Data, c.Data, id.ID{})
		if err != nil {
			return id.ID{}, Summary{}, err
		}
		node.Content = append(node.Content, bid)
		node.Size += uint64(len(c.Data))
	}
	t := &tree.Tree{}
	if err := t.Insert(node); err != nil {
		return id.ID{}, Summary{}, err
	}
	root, _, err := a.saveTree(ctx, t)
	a.fileDone(name, node.Size, FileNew)
	a.mu.Lock()
	s := a.summary
	a.mu.Unlock()
	s.BackupStart, s.BackupEnd = start, time.Now()
	return root, s, err
}
