package main

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// maxLine bounds what one appendLine call adds, so a chunk never outgrows
// its buffer.
const maxLine = 4 * kiB

type textStyle uint8

const (
	prose textStyle = iota
	logLines
	csvRows
	numStyles
)

// textGen makes one file's text, one line (or sentence) at a time.
type textGen struct {
	rng   *rand.Rand
	style textStyle
	n     int       // lines so far
	clock time.Time // for log lines and CSV dates
	bits  uint64    // random bits not used yet, drawn 12 at a time
	nbits int
}

// wordTable maps 12 random bits to an index into words, low indexes far
// more often than high ones (the share of word i falls off like 1/sqrt(i)),
// roughly as in real text.
var wordTable = func() (t [1 << 12]uint16) {
	for i := range t {
		x := (float64(i) + 0.5) / float64(len(t))
		t[i] = uint16(x * x * float64(len(words)))
	}
	return t
}()

func newTextGen(seed uint64) *textGen {
	rng := rand.New(rand.NewPCG(seed, textStream))
	return &textGen{
		rng:   rng,
		style: textStyle(rng.IntN(int(numStyles))),
		clock: epoch.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))),
	}
}

// draw12 returns 12 random bits; one 64-bit draw serves five calls.
func (g *textGen) draw12() uint64 {
	if g.nbits < 12 {
		g.bits, g.nbits = g.rng.Uint64(), 64
	}
	v := g.bits & (1<<12 - 1)
	g.bits >>= 12
	g.nbits -= 12
	return v
}

// small returns a number in [0, n) for a small n (up to a few hundred).
func (g *textGen) small(n int) int { return int(g.draw12() * uint64(n) >> 12) }

// word picks a word, the early ones of the list far more often.
func (g *textGen) word() string { return words[wordTable[g.draw12()]] }

func (g *textGen) appendLine(b []byte) []byte {
	g.n++
	switch g.style {
	case logLines:
		return g.appendLog(b)
	case csvRows:
		return g.appendCSV(b)
	}
	return g.appendSentence(b)
}

// appendSentence adds a sentence of 4 to 24 words, and now and then ends
// the paragraph.
func (g *textGen) appendSentence(b []byte) []byte {
	first := g.word()
	if g.small(2) == 0 {
		first = openings[g.small(len(openings))]
	}
	b = append(b, first[0]-'a'+'A')
	b = append(b, first[1:]...)
	for i := range 3 + g.small(21) {
		if i > 0 && g.small(9) == 0 {
			b = append(b, ',')
		}
		b = append(b, ' ')
		b = append(b, g.word()...)
	}
	b = append(b, '.')
	if g.small(6) == 0 {
		return append(b, "\n\n"...)
	}
	return append(b, ' ')
}

// openings start half of the sentences, as set phrases do in real prose.
var openings = []string{
	"in the morning the", "at the end of the day", "it was the first time that",
	"on the other hand", "for the most part", "as a matter of fact", "in other words",
	"at the same time", "after a long time", "by the side of the river",
	"from time to time", "all of a sudden", "in the middle of the night",
	"for example", "as far as we know", "more often than not",
}

var httpStatus = []int{200, 200, 200, 201, 204, 304, 404, 500}

var logLevels = []string{"INFO ", "INFO ", "INFO ", "INFO ", "DEBUG", "DEBUG", "WARN ", "ERROR"}

// appendLog adds a log line with an advancing time stamp.
func (g *textGen) appendLog(b []byte) []byte {
	g.clock = g.clock.Add(time.Duration(g.rng.IntN(3000)) * time.Millisecond)
	b = g.clock.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, ' ')
	b = append(b, logLevels[g.small(len(logLevels))]...)
	b = append(b, " [worker-"...)
	b = strconv.AppendInt(b, int64(g.small(8)), 10)
	b = append(b, "] "...)
	for range 3 + g.small(8) {
		b = append(b, g.word()...)
		b = append(b, ' ')
	}
	b = append(b, "path=/api/v1/"...)
	b = append(b, g.word()...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(g.rng.IntN(5000)), 10)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(httpStatus[g.small(len(httpStatus))]), 10)
	b = append(b, " took="...)
	b = strconv.AppendInt(b, int64(g.small(900)), 10)
	return append(b, "ms\n"...)
}

var csvStatus = []string{"paid", "paid", "shipped", "open", "cancelled"}

// appendCSV adds a header first, then order rows.
func (g *textGen) appendCSV(b []byte) []byte {
	if g.n == 1 {
		return append(b, "id,date,customer,city,product,quantity,price,status\n"...)
	}
	b = strconv.AppendInt(b, int64(100000+g.n), 10)
	b = append(b, ',')
	if g.small(20) == 0 {
		g.clock = g.clock.Add(24 * time.Hour)
	}
	b = g.clock.AppendFormat(b, "2006-01-02")
	for range 2 {
		b = append(b, ',')
		b = append(b, g.word()...)
	}
	// The price belongs to the product, as in a real order table.
	product := wordTable[g.draw12()]
	b = append(b, ',')
	b = append(b, words[product]...)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(1+g.small(20)), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(product)*37%500, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, 10+int64(product)*13%90, 10)
	b = append(b, ',')
	b = append(b, csvStatus[g.small(len(csvStatus))]...)
	return append(b, '\n')
}
