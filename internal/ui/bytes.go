package ui

import (
	"fmt"
	"strings"
)

// FormatBytes prints a byte count with a binary unit, as restic does:
// "512 B", "1.500 KiB", up to TiB.
func FormatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if f < unit || u == "TiB" {
			return fmt.Sprintf("%.3f %s", f, u)
		}
	}
	return ""
}

// ParseSize parses a byte count with an optional K, M, G or T suffix
// (powers of 1024) or B, in either case, as restic's size options.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	if s != "" {
		switch strings.ToUpper(s[len(s)-1:]) {
		case "K":
			mult = 1 << 10
		case "M":
			mult = 1 << 20
		case "G":
			mult = 1 << 30
		case "T":
			mult = 1 << 40
		case "B":
			mult = 1
		}
		if mult != 1 || strings.EqualFold(s[len(s)-1:], "B") {
			s = s[:len(s)-1]
		}
	}
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}
