package filter

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"unicode/utf16"
)

// ReadPatternFile reads the patterns of an --exclude-file: one pattern a
// line, with leading and trailing white space trimmed, and blank lines and
// lines starting with "#" skipped. Environment variables written $VAR or
// ${VAR} are expanded (unset ones to nothing) and "$$" stands for a literal
// "$", as in restic. A pattern that expands to nothing is dropped. The file
// may be UTF-8, with or without a byte-order mark, or UTF-16 with one.
func ReadPatternFile(name string) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read pattern file: %w", err)
	}
	text, err := decodeText(data)
	if err != nil {
		return nil, fmt.Errorf("read pattern file %s: %w", name, err)
	}
	var patterns []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line = os.Expand(line, expandVar); line != "" {
			patterns = append(patterns, line)
		}
	}
	return patterns, nil
}

// expandVar maps a variable name for os.Expand; "$$" reaches it as "$".
func expandVar(name string) string {
	if name == "$" {
		return "$"
	}
	return os.Getenv(name)
}

// decodeText turns file bytes into a string, honouring a UTF-8 or UTF-16
// byte-order mark.
func decodeText(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return string(data[3:]), nil
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return decodeUTF16(data[2:], false)
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return decodeUTF16(data[2:], true)
	}
	return string(data), nil
}

func decodeUTF16(data []byte, bigEndian bool) (string, error) {
	if len(data)%2 != 0 {
		return "", fmt.Errorf("odd length for UTF-16 text")
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		hi, lo := data[2*i+1], data[2*i]
		if bigEndian {
			hi, lo = lo, hi
		}
		units[i] = uint16(hi)<<8 | uint16(lo)
	}
	return string(utf16.Decode(units)), nil
}
