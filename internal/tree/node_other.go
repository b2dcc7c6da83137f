//go:build !linux

package tree

import (
	"errors"
	"fmt"
	"os"
)

// NodeFromPath returns the node restic records for the file at path. It is
// implemented on Linux only.
func (o NodeOptions) NodeFromPath(path string, fi os.FileInfo) (*Node, error) {
	return nil, fmt.Errorf("node %s: %w", path, errors.ErrUnsupported)
}
