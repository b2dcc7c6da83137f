// Package ui is how the command line shows and reads human quantities
// (byte counts with binary units, sizes with K, M, G or T suffixes) and the
// progress contract library packages report through.
//
// # Progress
//
// A library package (the archiver, the restorer) receives a [*Progress]
// and updates its counters with atomic adds: totals found by a scan,
// files and bytes done, skipped, deleted. Per-item events ([Event]) and
// problems ([Problem]) go through the same value; a nil *Progress
// discards everything, so library code never checks.
//
// The command picks a [Printer]: [Terminal] redraws one status line in
// place, [Plain] prints a line now and then with no control characters,
// and the command's own JSON printer writes message lines. Progress
// serialises every call to the printer and calls Status from one ticker
// goroutine, at most the configured number of times per second.
package ui
