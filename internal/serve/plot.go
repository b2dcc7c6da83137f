package serve

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/cairn-backup/cairn/internal/ui"
)

// line is one series of a plot.
type line struct {
	Label string
	Class string // CSS class: its colour
	Y     []float64
	Bytes bool // values are bytes (axis and tooltips in KiB, MiB, ...)
}

// plot draws lines over the times xs as an SVG element, with a left axis
// for the first line's unit and a right one for the second line's, if
// there is one. It is drawn on the server, so that the page needs no
// script.
func plot(id, title string, xs []time.Time, lines ...line) template.HTML {
	const w, h, left, right, top, bottom = 720.0, 260.0, 80.0, 80.0, 30.0, 40.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="%s" class="plot" viewBox="0 0 %g %g" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, id, w, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text class="title" x="%g" y="18">%s</text>`, left, template.HTMLEscapeString(title))
	if len(xs) == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%g" y="%g">no snapshots</text></svg>`, w/2-40, h/2)
		return template.HTML(b.String())
	}
	t0, t1 := xs[0], xs[len(xs)-1]
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		if span == 0 {
			return left + (w-left-right)/2
		}
		return left + t.Sub(t0).Seconds()/span*(w-left-right)
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%g" y1="%g" x2="%g" y2="%g"/>`, left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<text class="tick" x="%g" y="%g">%s</text>`, left, h-bottom+16, t0.Format("2006-01-02 15:04"))
	if span > 0 {
		fmt.Fprintf(&b, `<text class="tick end" x="%g" y="%g" text-anchor="end">%s</text>`, w-right, h-bottom+16, t1.Format("2006-01-02 15:04"))
	}
	for i, l := range lines {
		hi := 0.0
		for _, v := range l.Y {
			hi = math.Max(hi, v)
		}
		if hi == 0 {
			hi = 1
		}
		y := func(v float64) float64 { return h - bottom - v/hi*(h-top-bottom) }
		ax, anchor := left-6, "end"
		if i == 1 {
			ax, anchor = w-right+6, "start"
		}
		if i < 2 {
			fmt.Fprintf(&b, `<text class="tick %s" x="%g" y="%g" text-anchor="%s">%s</text>`, l.Class, ax, top+4, anchor, format(hi, l.Bytes))
			fmt.Fprintf(&b, `<text class="tick %s" x="%g" y="%g" text-anchor="%s">0</text>`, l.Class, ax, h-bottom, anchor)
		}
		var pts []string
		for j, v := range l.Y {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(xs[j]), y(v)))
		}
		fmt.Fprintf(&b, `<polyline class="series %s" fill="none" points="%s"/>`, l.Class, strings.Join(pts, " "))
		for j, v := range l.Y {
			fmt.Fprintf(&b, `<circle class="point %s" cx="%.1f" cy="%.1f" r="3"><title>%s %s: %s</title></circle>`,
				l.Class, x(xs[j]), y(v), xs[j].Format("2006-01-02 15:04:05"), template.HTMLEscapeString(l.Label), format(v, l.Bytes))
		}
		fmt.Fprintf(&b, `<text class="legend %s" x="%g" y="%g">%s</text>`, l.Class, left+float64(i)*220, h-8, template.HTMLEscapeString(l.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// format writes a value for a plot: bytes in binary units, counts as
// integers.
func format(v float64, bytes bool) string {
	if bytes {
		return ui.FormatBytes(uint64(v))
	}
	return fmt.Sprintf("%.0f", v)
}
