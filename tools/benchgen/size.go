package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Binary size units.
const (
	kiB = 1 << 10
	miB = 1 << 20
	giB = 1 << 30
)

// parseSize reads a byte count with an optional K, M, G or T suffix
// (binary units; a trailing "B" or "iB" is allowed): "2G", "500M", "20MiB".
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = kiB
		case 'M':
			mult = miB
		case 'G':
			mult = giB
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(n * float64(mult)), nil
}

// formatSize writes n bytes with a binary unit, for messages.
func formatSize(n int64) string {
	switch {
	case n >= giB:
		return fmt.Sprintf("%.2f GiB", float64(n)/giB)
	case n >= miB:
		return fmt.Sprintf("%.1f MiB", float64(n)/miB)
	case n >= kiB:
		return fmt.Sprintf("%.1f KiB", float64(n)/kiB)
	}
	return fmt.Sprintf("%d B", n)
}
