package location

import (
	"sort"

	"github.com/cairn-backup/cairn/internal/backend/azure"
	"github.com/cairn-backup/cairn/internal/backend/gs"
	"github.com/cairn-backup/cairn/internal/backend/rclone"
	"github.com/cairn-backup/cairn/internal/backend/rest"
	"github.com/cairn-backup/cairn/internal/backend/s3"
	"github.com/cairn-backup/cairn/internal/backend/sftp"
)

// OptionHelp is one -o option: its full name ("s3.region") and what it does.
type OptionHelp struct {
	Name, Help string
}

// ExtendedOptions lists every -o option of every backend, sorted by name,
// as each backend package documents them beside its SetOption.
func ExtendedOptions() []OptionHelp {
	var out []OptionHelp
	for scheme, help := range map[string]map[string]string{
		"rclone": rclone.OptionHelp,
		"rest":   rest.OptionHelp,
		"s3":     s3.OptionHelp,
		"sftp":   sftp.OptionHelp,
		"azure":  azure.OptionHelp,
		"gs":     gs.OptionHelp,
	} {
		for k, h := range help {
			out = append(out, OptionHelp{Name: scheme + "." + k, Help: h})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
