package ui

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Format turns one command's statuses, events and problems into text.
type Format interface {
	// StatusLines is the status: a first line with the counters, then
	// one line per item in progress.
	StatusLines(s Status) []string
	// EventLine is the line for one item; "" prints nothing.
	EventLine(e Event) string
	// ProblemLine is the line for a failed item.
	ProblemLine(p Problem) string
}

// Terminal is a Printer for a terminal: the status is redrawn in place
// (carriage return, cursor up, clear to the end of the screen) and removed
// at the end; events go to Out and problems to Err above it.
type Terminal struct {
	Out, Err io.Writer
	Format   Format
	// Width cuts status lines so that they never wrap; 0 leaves them.
	Width int
	// Keep leaves the final status on the screen as a line of its own
	// (restic does so for counters such as "18 / 18 packs").
	Keep bool

	drawn []string // the status lines on the screen
}

// Status implements Printer.
func (t *Terminal) Status(s Status) {
	t.clear()
	if s.Final {
		if t.Keep {
			t.draw(t.Format.StatusLines(s))
			_, _ = io.WriteString(t.Out, "\n")
			t.drawn = nil
		}
		return
	}
	t.draw(t.Format.StatusLines(s))
}

// Event implements Printer.
func (t *Terminal) Event(e Event) {
	if line := t.Format.EventLine(e); line != "" {
		t.above(t.Out, line)
	}
}

// Problem implements Printer.
func (t *Terminal) Problem(p Problem) { t.above(t.Err, t.Format.ProblemLine(p)) }

// above prints a line where the status is and draws the status again
// below it.
func (t *Terminal) above(w io.Writer, line string) {
	lines := t.drawn
	t.clear()
	fmt.Fprintln(w, line)
	t.draw(lines)
}

func (t *Terminal) clear() {
	if len(t.drawn) == 0 {
		return
	}
	var b strings.Builder
	if n := len(t.drawn) - 1; n > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", n)
	}
	b.WriteString("\r\x1b[J")
	_, _ = io.WriteString(t.Out, b.String())
	t.drawn = nil
}

func (t *Terminal) draw(lines []string) {
	if len(lines) == 0 {
		return
	}
	cut := make([]string, len(lines))
	for i, l := range lines {
		if r := []rune(l); t.Width > 0 && len(r) >= t.Width {
			l = string(r[:t.Width-1])
		}
		cut[i] = l
	}
	_, _ = io.WriteString(t.Out, "\r"+strings.Join(cut, "\n"))
	t.drawn = cut
}

// Plain is a Printer for output that is not a terminal: the first status
// line is printed as a line of its own when it differs from the last one,
// and nothing is redrawn. It writes no control characters.
type Plain struct {
	Out, Err io.Writer
	Format   Format

	last string
}

// Status implements Printer.
func (p *Plain) Status(s Status) {
	if s.Final {
		return
	}
	lines := p.Format.StatusLines(s)
	if len(lines) == 0 || lines[0] == p.last {
		return
	}
	p.last = lines[0]
	fmt.Fprintln(p.Out, lines[0])
}

// Event implements Printer.
func (p *Plain) Event(e Event) {
	if line := p.Format.EventLine(e); line != "" {
		fmt.Fprintln(p.Out, line)
	}
}

// Problem implements Printer.
func (p *Plain) Problem(pr Problem) { fmt.Fprintln(p.Err, p.Format.ProblemLine(pr)) }

// Interval is how often a status is shown, as restic decides it:
// $RESTIC_PROGRESS_FPS (or $CAIRN_PROGRESS_FPS) frames a second when set
// (at most 60); otherwise DefaultFPS on a terminal, 10 a second for JSON
// and never (0) for plain output or when quiet.
func Interval(quiet, json, terminal bool) time.Duration {
	if quiet {
		return 0
	}
	for _, name := range []string{"CAIRN_PROGRESS_FPS", "RESTIC_PROGRESS_FPS"} {
		if fps, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && fps > 0 {
			return time.Duration(float64(time.Second) / min(fps, 60))
		}
	}
	switch {
	case json:
		return time.Second / 10
	case terminal:
		return time.Second / DefaultFPS
	}
	return 0
}

// FormatDuration shows d as restic's status does: m:ss, or h:mm:ss from
// an hour on.
func FormatDuration(d time.Duration) string {
	sec := int64(d / time.Second)
	h, m, s := sec/3600, sec/60%60, sec%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// FormatPercent shows done/total as "12.34%".
func FormatPercent(done, total uint64) string {
	if total == 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%3.2f%%", min(100, float64(done)/float64(total)*100))
}
