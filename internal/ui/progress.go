package ui

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Counters are the numbers a long operation updates as it goes. Every
// field is updated with atomic adds, so the hot path takes no lock.
type Counters struct {
	// TotalFiles and TotalBytes are what a scan found so far; ScanDone
	// says the scan has finished and the totals are final.
	TotalFiles, TotalBytes atomic.Uint64
	ScanDone               atomic.Bool
	// Files and Bytes are done so far.
	Files, Bytes atomic.Uint64
	// SkippedFiles and SkippedBytes were already in place (restore).
	SkippedFiles, SkippedBytes atomic.Uint64
	// Deleted counts removed entries (restore --delete).
	Deleted atomic.Uint64
	// Errors counts reported problems.
	Errors atomic.Uint64
}

// Status is a copy of the counters at one moment, with the items in
// progress and the time since the start.
type Status struct {
	Elapsed                    time.Duration
	TotalFiles, TotalBytes     uint64
	ScanDone                   bool
	Files, Bytes               uint64
	SkippedFiles, SkippedBytes uint64
	Deleted, Errors            uint64
	// Current lists the items in progress, sorted.
	Current []string
	// Final is set on the last status, after the work is done.
	Final bool
}

// Fraction is Bytes over TotalBytes, in [0, 1] (1 when there is nothing
// to do and the scan is done).
func (s Status) Fraction() float64 {
	if s.TotalBytes == 0 {
		if s.ScanDone || s.Final {
			return 1
		}
		return 0
	}
	return min(1, float64(s.Bytes+s.SkippedBytes)/float64(s.TotalBytes))
}

// Remaining estimates the time left from the rate so far; 0 means unknown.
func (s Status) Remaining() time.Duration {
	done := s.Bytes + s.SkippedBytes
	if !s.ScanDone || done == 0 || done >= s.TotalBytes || s.Elapsed <= 0 {
		return 0
	}
	return time.Duration(float64(s.Elapsed) * float64(s.TotalBytes-done) / float64(done))
}

// Event is one item an operation dealt with, for verbose output.
type Event struct {
	// Action is what happened: "new", "unchanged", "modified" (backup),
	// "restored", "updated", "unchanged", "deleted" (restore), or
	// "scan_finished".
	Action string
	Item   string
	IsDir  bool
	// Duration is how long the item took.
	Duration time.Duration
	// Size is the item's size; DataAdded and DataAddedPacked what it added
	// to the repository; MetadataAdded and MetadataAddedPacked the same
	// for its tree (directories).
	Size                               uint64
	DataAdded, DataAddedPacked         uint64
	MetadataAdded, MetadataAddedPacked uint64
	// TotalFiles is set on scan_finished.
	TotalFiles uint64
}

// Problem is an item that could not be dealt with; the operation went on.
type Problem struct {
	// During is what was being done, as restic names it ("archival",
	// "scan", "restore").
	During string
	Item   string
	Err    error
	// Warning marks problems that do not count as errors (a file that
	// changed while it was read).
	Warning bool
}

// Printer shows progress. Progress calls it from one goroutine at a time.
type Printer interface {
	// Status shows the counters; s.Final is the last call, after which
	// a status line must be gone from the screen.
	Status(s Status)
	// Event shows one item (only called when verbose output is wanted).
	Event(e Event)
	// Problem shows an item that failed.
	Problem(p Problem)
}

// DefaultFPS is how many times a second a terminal status is redrawn
// unless the environment says otherwise (restic's rate).
const DefaultFPS = 60

// Progress connects a running operation to a printer. The zero value is
// not usable; a nil *Progress discards everything.
type Progress struct {
	Counters

	start   time.Time
	verbose bool

	mu       sync.Mutex
	printer  Printer              // guarded by mu
	current  map[string]time.Time // guarded by mu
	finished bool                 // guarded by mu

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// NewProgress returns a Progress that shows its status through p every
// interval (0: only the final status). verbose says whether Event calls
// reach the printer.
func NewProgress(p Printer, interval time.Duration, verbose bool) *Progress {
	pr := &Progress{
		start: time.Now(), verbose: verbose, printer: p,
		current: map[string]time.Time{},
		stop:    make(chan struct{}), done: make(chan struct{}),
	}
	go pr.tick(interval)
	return pr
}

func (p *Progress) tick(interval time.Duration) {
	defer close(p.done)
	if interval <= 0 {
		<-p.stop
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if !p.finished {
				p.printer.Status(p.status(false))
			}
			p.mu.Unlock()
		}
	}
}

// Verbose reports whether per-item events are shown, so that callers can
// skip building them.
func (p *Progress) Verbose() bool { return p != nil && p.verbose }

// AddTotal adds to the totals found by a scan.
func (p *Progress) AddTotal(files, bytes uint64) {
	if p == nil {
		return
	}
	p.TotalFiles.Add(files)
	p.TotalBytes.Add(bytes)
}

// ScanFinished marks the totals final.
func (p *Progress) ScanFinished() {
	if p != nil {
		p.ScanDone.Store(true)
	}
}

// AddBytes counts bytes done (call per chunk: one atomic add).
func (p *Progress) AddBytes(n uint64) {
	if p != nil {
		p.Bytes.Add(n)
	}
}

// AddFiles counts files done.
func (p *Progress) AddFiles(n uint64) {
	if p != nil {
		p.Files.Add(n)
	}
}

// AddSkipped counts files and bytes that were already in place.
func (p *Progress) AddSkipped(files, bytes uint64) {
	if p == nil {
		return
	}
	p.SkippedFiles.Add(files)
	p.SkippedBytes.Add(bytes)
}

// AddDeleted counts removed entries.
func (p *Progress) AddDeleted(n uint64) {
	if p != nil {
		p.Deleted.Add(n)
	}
}

// StartItem marks an item in progress (shown as a current file).
func (p *Progress) StartItem(item string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.current[item] = time.Now()
	p.mu.Unlock()
}

// DoneItem ends an item started with StartItem and returns how long it
// took.
func (p *Progress) DoneItem(item string) time.Duration {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	t, ok := p.current[item]
	delete(p.current, item)
	p.mu.Unlock()
	if !ok {
		return 0
	}
	return time.Since(t)
}

// Event shows one item if verbose output is on.
func (p *Progress) Event(e Event) {
	if !p.Verbose() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.finished {
		p.printer.Event(e)
	}
}

// Problem shows a failed item and counts it (warnings are not counted).
func (p *Progress) Problem(pr Problem) {
	if p == nil {
		return
	}
	if !pr.Warning {
		p.Errors.Add(1)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printer.Problem(pr)
}

// Finish stops the ticker and shows the final status once. Later (or
// concurrent) calls do nothing.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	p.printer.Status(p.status(true))
}

// Snapshot returns the current status.
func (p *Progress) Snapshot() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status(p.finished)
}

// status reads the counters; the caller holds mu.
func (p *Progress) status(final bool) Status {
	s := Status{
		Elapsed:    time.Since(p.start),
		TotalFiles: p.TotalFiles.Load(), TotalBytes: p.TotalBytes.Load(),
		ScanDone: p.ScanDone.Load(),
		Files:    p.Files.Load(), Bytes: p.Bytes.Load(),
		SkippedFiles: p.SkippedFiles.Load(), SkippedBytes: p.SkippedBytes.Load(),
		Deleted: p.Deleted.Load(), Errors: p.Errors.Load(),
		Final: final,
	}
	if !final && len(p.current) > 0 {
		s.Current = make([]string, 0, len(p.current))
		for k := range p.current {
			s.Current = append(s.Current, k)
		}
		sort.Strings(s.Current)
	}
	return s
}

// Discard is a Printer that shows nothing.
type Discard struct{}

// Status implements Printer.
func (Discard) Status(Status) {}

// Event implements Printer.
func (Discard) Event(Event) {}

// Problem implements Printer.
func (Discard) Problem(Problem) {}
