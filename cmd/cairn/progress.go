package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cairn-backup/cairn/internal/ui"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// jsonFormat turns one command's statuses and events into restic's JSON
// messages; problems become restic's error messages.
type jsonFormat interface {
	status(s ui.Status) any
	event(e ui.Event) any
}

// errorMessage is restic's JSON error line, printed on stderr.
type errorMessage struct {
	MessageType string `json:"message_type"` // "error"
	Error       struct {
		Message string `json:"message"`
	} `json:"error"`
	During string `json:"during"`
	Item   string `json:"item"`
}

// jsonPrinter is the Printer for --json: status and verbose_status lines
// on stdout, error lines on stderr.
type jsonPrinter struct {
	out, err *json.Encoder
	format   jsonFormat
	quiet    bool
}

func (p *jsonPrinter) Status(s ui.Status) {
	if m := p.format.status(s); m != nil && !p.quiet {
		_ = p.out.Encode(m)
	}
}

func (p *jsonPrinter) Event(e ui.Event) {
	if m := p.format.event(e); m != nil {
		_ = p.out.Encode(m)
	}
}

func (p *jsonPrinter) Problem(pr ui.Problem) {
	m := errorMessage{MessageType: "error", During: pr.During, Item: pr.Item}
	m.Error.Message = pr.Err.Error()
	_ = p.err.Encode(m)
}

// quietPrinter shows only problems, for --quiet.
type quietPrinter struct {
	ui.Discard
	err    io.Writer
	format ui.Format
}

func (p quietPrinter) Problem(pr ui.Problem) {
	_, _ = io.WriteString(p.err, p.format.ProblemLine(pr)+"\n")
}

// newProgress starts the progress of a command as restic shows it: JSON
// lines under --json; on a terminal a status line redrawn in place on
// stdout; otherwise plain lines, and a status only when
// $RESTIC_PROGRESS_FPS asks for one. verbose says whether per-item events
// are shown. The caller calls Finish before printing its result.
func newProgress(cmd *cobra.Command, g *globalOptions, text ui.Format, js jsonFormat, verbose bool) *ui.Progress {
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	terminal := isTerminalWriter(out)
	interval := ui.Interval(g.Quiet, g.JSON, terminal)
	var p ui.Printer
	switch {
	case g.JSON:
		p = &jsonPrinter{out: json.NewEncoder(out), err: json.NewEncoder(errw), format: js, quiet: g.Quiet}
	case g.Quiet:
		p = quietPrinter{err: errw, format: text}
	case terminal:
		t := &ui.Terminal{Out: out, Err: errw, Format: text}
		if f, ok := out.(*os.File); ok {
			if w, _, err := term.GetSize(int(f.Fd())); err == nil {
				t.Width = w
			}
		}
		p = t
	default:
		p = &ui.Plain{Out: out, Err: errw, Format: text}
	}
	return ui.NewProgress(p, interval, verbose)
}

// counterText is restic's line for a count of items of a known total:
// "[0:01] 45.00%  12 / 26 packs".
type counterText struct{ unit string }

func (f counterText) StatusLines(s ui.Status) []string {
	if s.TotalFiles == 0 {
		// restic leaves the percentage and the total out when there are none.
		return []string{fmt.Sprintf("[%s]          %d %s", ui.FormatDuration(s.Elapsed), s.Files, f.unit)}
	}
	return []string{fmt.Sprintf("[%s] %s  %d / %d %s", ui.FormatDuration(s.Elapsed), ui.FormatPercent(s.Files, s.TotalFiles), s.Files, s.TotalFiles, f.unit)}
}
func (counterText) EventLine(ui.Event) string       { return "" }
func (counterText) ProblemLine(p ui.Problem) string { return problemLine(p) }

// newCounter starts a progress counting total items (packs, snapshots) on
// a terminal, as restic shows them; under --json, --quiet or without a
// terminal it shows nothing. Count with AddFiles; call Finish at the end.
func newCounter(out io.Writer, g *globalOptions, total int, unit string) *ui.Progress {
	var p ui.Printer = ui.Discard{}
	interval := time.Duration(0)
	if !g.JSON && !g.Quiet && isTerminalWriter(out) {
		p = &ui.Terminal{Out: out, Err: out, Format: counterText{unit}, Keep: true}
		interval = ui.Interval(false, false, true)
	}
	prog := ui.NewProgress(p, interval, false)
	prog.AddTotal(uint64(total), 0)
	prog.ScanFinished()
	return prog
}
