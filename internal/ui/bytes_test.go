package ui

import "testing"

func TestFormatBytes(t *testing.T) {
	for n, want := range map[uint64]string{
		0:               "0 B",
		1023:            "1023 B",
		1024:            "1.000 KiB",
		1536:            "1.500 KiB",
		5 << 20:         "5.000 MiB",
		3 << 30:         "3.000 GiB",
		2 << 40:         "2.000 TiB",
		1 << 50:         "1024.000 TiB",
		1<<20 - 1:       "1023.999 KiB",
		1<<20 + 1<<19:   "1.500 MiB",
		123456789012345: "112.283 TiB",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{
		"0": 0, "100": 100, "100b": 100, "100B": 100, "2k": 2 << 10, "2K": 2 << 10,
		"3M": 3 << 20, "4g": 4 << 30, "5T": 5 << 40, " 7M ": 7 << 20,
	} {
		got, err := ParseSize(s)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "K", "-1", "x", "-2K"} {
		if n, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", s, n)
		}
	}
}
