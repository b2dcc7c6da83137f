package forget

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Duration is a calendar span of years, months, days and hours, written
// like "1y2m3d4h" as restic's --keep-within options take it. Months and
// years are calendar months and years, not fixed lengths.
type Duration struct {
	Years, Months, Days, Hours int
}

// ParseDuration reads a duration: numbers (optionally negative), each
// followed by one of the units y, m, d or h, in any order. A unit given
// twice takes the last value. The empty string is the zero duration.
func ParseDuration(s string) (Duration, error) {
	var d Duration
	rest := strings.TrimSpace(s)
	for rest != "" {
		i := 0
		if rest[0] == '-' {
			i = 1
		}
		j := i
		for j < len(rest) {
			r := rune(rest[j])
			if r >= 0x80 || !unicode.IsDigit(r) {
				break
			}
			j++
		}
		if j == i {
			return Duration{}, fmt.Errorf("duration %q: no number found", s)
		}
		n, err := strconv.Atoi(rest[:j])
		if err != nil {
			return Duration{}, fmt.Errorf("duration %q: %w", s, err)
		}
		if j == len(rest) {
			return Duration{}, fmt.Errorf("duration %q: no unit found after number %d", s, n)
		}
		switch rest[j] {
		case 'y':
			d.Years = n
		case 'm':
			d.Months = n
		case 'd':
			d.Days = n
		case 'h':
			d.Hours = n
		default:
			return Duration{}, fmt.Errorf("duration %q: invalid unit %q after number %d", s, rest[j], n)
		}
		rest = rest[j+1:]
	}
	return d, nil
}

// String writes d back in the form ParseDuration reads, leaving out zero
// parts ("" for the zero duration).
func (d Duration) String() string {
	var b strings.Builder
	for _, p := range []struct {
		n    int
		unit byte
	}{{d.Years, 'y'}, {d.Months, 'm'}, {d.Days, 'd'}, {d.Hours, 'h'}} {
		if p.n != 0 {
			b.WriteString(strconv.Itoa(p.n))
			b.WriteByte(p.unit)
		}
	}
	return b.String()
}

// Zero reports whether every part of d is zero.
func (d Duration) Zero() bool { return d == Duration{} }

// Before returns the point in time d before t (calendar arithmetic for
// years, months and days, then whole hours).
func (d Duration) Before(t time.Time) time.Time {
	return t.AddDate(-d.Years, -d.Months, -d.Days).Add(-time.Duration(d.Hours) * time.Hour)
}

// Set parses s into d; with String and Type it makes *Duration a command
// line flag value.
func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Type names the flag value type in help texts.
func (d *Duration) Type() string { return "duration" }

// Unlimited is the Count that never runs out.
const Unlimited Count = -1

// Count is the number of buckets a --keep-<period> rule may fill: 0 (rule
// off), a positive number, or Unlimited.
type Count int

// errCount is wrapped by every error about a malformed count.
var errCount = errors.New("invalid count")

// Set parses a count: a non-negative number, -1 or "unlimited".
func (c *Count) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "unlimited" {
		*c = Unlimited
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -1 {
		return fmt.Errorf("%w %q: want a number >= 0, -1 or \"unlimited\"", errCount, s)
	}
	*c = Count(n)
	return nil
}

// String returns the count as a number ("-1" for Unlimited).
func (c *Count) String() string { return strconv.Itoa(int(*c)) }

// Type names the flag value type in help texts.
func (c *Count) Type() string { return "n" }
