package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// CheckResultFile is the name of the file [SaveCheckResult] writes.
const CheckResultFile = "cairn-check.json"

// CheckResult is the outcome of one run of check, as it is kept between
// runs for [Repository].
type CheckResult struct {
	// Time is when the check ended.
	Time time.Time `json:"time"`
	// Errors is the number of errors it found.
	Errors int `json:"errors"`
	// Success is true if it finished and found no errors.
	Success bool `json:"success"`
	// ReadData is true if it read pack data (--read-data or
	// --read-data-subset).
	ReadData bool `json:"read_data"`
}

// SaveCheckResult writes r to dir/[CheckResultFile], creating dir if
// needed. The file is replaced atomically (a temporary file in dir,
// synced, renamed, and the directory synced), so a reader sees the old
// result or the new one, never a mix; its mode is 0600.
func SaveCheckResult(dir string, r CheckResult) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save check result: %w", err)
	}
	final := filepath.Join(dir, CheckResultFile)
	tmp, err := os.CreateTemp(dir, CheckResultFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("save check result: %w", err)
	}
	err = writeSynced(tmp, append(doc, '\n'))
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save check result: %w", err)
	}
	return syncDir(dir)
}

// writeSynced writes b to f, makes it private, syncs and closes it.
func writeSynced(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save check result: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("save check result: sync %s: %w", dir, err)
	}
	return nil
}

// LoadCheckResult reads the result [SaveCheckResult] wrote in dir. It
// returns nil and no error when there is none; a file that is not a
// check result is an error naming it.
func LoadCheckResult(dir string) (*CheckResult, error) {
	p := filepath.Join(dir, CheckResultFile)
	doc, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load check result: %w", err)
	}
	var r CheckResult
	if err := json.Unmarshal(doc, &r); err != nil {
		return nil, fmt.Errorf("load check result %s: %w", p, err)
	}
	if r.Time.IsZero() {
		return nil, fmt.Errorf("load check result %s: no time", p)
	}
	return &r, nil
}
