package ui_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/ui"
)

// countPrinter counts the calls it gets.
type countPrinter struct {
	mu               sync.Mutex
	statuses, finals int
	last             ui.Status
	events, problems int
}

func (c *countPrinter) Status(s ui.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.Final {
		c.finals++
	} else {
		c.statuses++
	}
	c.last = s
}
func (c *countPrinter) Event(ui.Event)     { c.mu.Lock(); c.events++; c.mu.Unlock() }
func (c *countPrinter) Problem(ui.Problem) { c.mu.Lock(); c.problems++; c.mu.Unlock() }

func TestProgressRateLimit(t *testing.T) {
	c := &countPrinter{}
	p := ui.NewProgress(c, 50*time.Millisecond, false)
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		p.AddBytes(1) // as fast as it goes: the printer still sees ~10 frames
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(p.Finish) // once only, even at the same time
	}
	wg.Wait()
	p.Finish()
	if c.statuses < 3 || c.statuses > 12 {
		t.Errorf("%d statuses in 500ms at 20 a second, want about 10", c.statuses)
	}
	if c.finals != 1 || c.last.Bytes == 0 || !c.last.Final {
		t.Errorf("final status %+v, %d finals; want one, with the bytes", c.last, c.finals)
	}
}

func TestProgressNoInterval(t *testing.T) {
	c := &countPrinter{}
	p := ui.NewProgress(c, 0, false)
	p.AddTotal(2, 10)
	p.AddFiles(1)
	p.Event(ui.Event{Action: "new"}) // not verbose: dropped
	p.Problem(ui.Problem{Item: "x", Err: errors.New("boom")})
	p.Problem(ui.Problem{Item: "y", Err: errors.New("changed"), Warning: true})
	time.Sleep(50 * time.Millisecond)
	p.Finish()
	if c.statuses != 0 || c.finals != 1 || c.events != 0 || c.problems != 2 {
		t.Errorf("calls: %+v, want only the final status and the two problems", c)
	}
	if c.last.Errors != 1 || c.last.TotalFiles != 2 || c.last.Files != 1 {
		t.Errorf("final status %+v: want 1 error (warnings are not counted), 2 total files, 1 done", c.last)
	}
}

func TestProgressNil(t *testing.T) {
	var p *ui.Progress // library code calls it without checking
	p.AddBytes(1)
	p.AddTotal(1, 1)
	p.StartItem("a")
	if d := p.DoneItem("a"); d != 0 {
		t.Errorf("DoneItem on nil = %v", d)
	}
	p.Event(ui.Event{})
	p.Problem(ui.Problem{Err: errors.New("x")})
	p.Finish()
	if p.Verbose() {
		t.Error("nil Progress is verbose")
	}
}

func TestStatusCurrentItems(t *testing.T) {
	p := ui.NewProgress(ui.Discard{}, 0, true)
	p.StartItem("/b")
	p.StartItem("/a")
	if got := p.Snapshot().Current; strings.Join(got, ",") != "/a,/b" {
		t.Errorf("Current = %q, want sorted [/a /b]", got)
	}
	p.DoneItem("/a")
	if got := p.Snapshot().Current; strings.Join(got, ",") != "/b" {
		t.Errorf("Current after DoneItem = %q", got)
	}
	p.Finish()
}

// lineFormat is a Format with fixed lines.
type lineFormat struct{}

func (lineFormat) StatusLines(s ui.Status) []string {
	return append([]string{"[status] " + ui.FormatBytes(s.Bytes)}, s.Current...)
}
func (lineFormat) EventLine(e ui.Event) string     { return "event " + e.Item }
func (lineFormat) ProblemLine(p ui.Problem) string { return "error: " + p.Err.Error() }

func TestTerminalRedrawsAndClears(t *testing.T) {
	var out, errw bytes.Buffer
	term := &ui.Terminal{Out: &out, Err: &errw, Format: lineFormat{}, Width: 12}
	term.Status(ui.Status{Bytes: 10, Current: []string{"/one", "/two"}})
	if got := out.String(); got != "\r[status] 10\n/one\n/two" {
		t.Errorf("first frame %q", got)
	}
	out.Reset()
	term.Status(ui.Status{Bytes: 2048})
	// Up two lines, clear to the end, redraw (cut to the width).
	if got := out.String(); got != "\x1b[2A\r\x1b[J\r[status] 2." {
		t.Errorf("second frame %q", got)
	}
	out.Reset()
	term.Event(ui.Event{Item: "/x"})
	if got := out.String(); got != "\r\x1b[Jevent /x\n\r[status] 2." {
		t.Errorf("event above the status: %q", got)
	}
	out.Reset()
	term.Problem(ui.Problem{Err: errors.New("boom")})
	if out.String() != "\r\x1b[J\r[status] 2." || errw.String() != "error: boom\n" {
		t.Errorf("problem: out %q, err %q", out.String(), errw.String())
	}
	out.Reset()
	term.Status(ui.Status{Final: true})
	if got := out.String(); got != "\r\x1b[J" {
		t.Errorf("final frame %q, want the status cleared", got)
	}
}

func TestTerminalKeepsFinalCounter(t *testing.T) {
	var out bytes.Buffer
	term := &ui.Terminal{Out: &out, Err: &out, Format: lineFormat{}, Keep: true}
	term.Status(ui.Status{Bytes: 1})
	term.Status(ui.Status{Bytes: 2, Final: true})
	if got := out.String(); got != "\r[status] 1 B\r\x1b[J\r[status] 2 B\n" {
		t.Errorf("output %q, want the final status left as a line", got)
	}
}

func TestPlainHasNoControlCharacters(t *testing.T) {
	var out, errw bytes.Buffer
	p := &ui.Plain{Out: &out, Err: &errw, Format: lineFormat{}}
	p.Status(ui.Status{Bytes: 1, Current: []string{"/a"}})
	p.Status(ui.Status{Bytes: 1, Current: []string{"/b"}}) // same first line: not repeated
	p.Event(ui.Event{Item: "/a"})
	p.Status(ui.Status{Bytes: 2})
	p.Status(ui.Status{Final: true})
	p.Problem(ui.Problem{Err: errors.New("boom")})
	if got, want := out.String(), "[status] 1 B\nevent /a\n[status] 2 B\n"; got != want {
		t.Errorf("plain output %q, want %q", got, want)
	}
	if strings.ContainsAny(out.String()+errw.String(), "\r\x1b") {
		t.Error("control characters in plain output")
	}
}

func TestInterval(t *testing.T) {
	t.Setenv("RESTIC_PROGRESS_FPS", "")
	t.Setenv("CAIRN_PROGRESS_FPS", "")
	for _, tc := range []struct {
		quiet, json, term bool
		fps               string
		want              time.Duration
	}{
		{term: true, want: time.Second / 60},
		{want: 0},
		{json: true, want: 100 * time.Millisecond},
		{quiet: true, term: true, want: 0},
		{fps: "2", want: 500 * time.Millisecond},
		{fps: "1000", term: true, want: time.Second / 60},
		{fps: "junk", want: 0},
	} {
		t.Setenv("RESTIC_PROGRESS_FPS", tc.fps)
		if got := ui.Interval(tc.quiet, tc.json, tc.term); got != tc.want {
			t.Errorf("Interval(%v, %v, %v) with FPS %q = %v, want %v", tc.quiet, tc.json, tc.term, tc.fps, got, tc.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0:00", 61 * time.Second: "1:01", 3723 * time.Second: "1:02:03"} {
		if got := ui.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
