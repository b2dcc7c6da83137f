// Package jsonscan is the scanner under cairn's reflection-free JSON
// decoders (index files, trees): the documents restic writes have one
// fixed layout, and decoding them is most of loading an index or a parent
// snapshot, where encoding/json spends its time finding fields and types.
//
// A Scanner accepts a strict subset of JSON and fails with ErrNotFast on
// anything else, valid or not: a string with an escape, a control
// character or bytes that are not UTF-8, a number with a sign, fraction,
// exponent, leading zero or above its limit. A decoder built on it hands
// such documents to encoding/json, which decodes them or names the error;
// each decoder's differential fuzz test holds the two paths together.
package jsonscan

import (
	"encoding/hex"
	"errors"
	"unicode/utf8"

	"github.com/cairn-backup/cairn/internal/id"
)

// ErrNotFast means the document is outside the subset the scanner takes.
var ErrNotFast = errors.New("json: outside the fast decoder's layout")

// Scanner reads Doc from Pos.
type Scanner struct {
	Doc []byte
	Pos int
}

// Space skips white space.
func (d *Scanner) Space() {
	for d.Pos < len(d.Doc) {
		switch d.Doc[d.Pos] {
		case ' ', '\t', '\n', '\r':
			d.Pos++
		default:
			return
		}
	}
}

// End skips white space and fails unless the document ends there.
func (d *Scanner) End() error {
	d.Space()
	if d.Pos != len(d.Doc) {
		return ErrNotFast
	}
	return nil
}

// Expect skips white space and the byte c.
func (d *Scanner) Expect(c byte) error {
	d.Space()
	if d.Pos >= len(d.Doc) || d.Doc[d.Pos] != c {
		return ErrNotFast
	}
	d.Pos++
	return nil
}

// Peek skips white space and reports whether the next byte is c,
// consuming it if so.
func (d *Scanner) Peek(c byte) bool {
	d.Space()
	if d.Pos < len(d.Doc) && d.Doc[d.Pos] == c {
		d.Pos++
		return true
	}
	return false
}

// Null skips white space and a null literal, if there is one.
func (d *Scanner) Null() bool {
	d.Space()
	if len(d.Doc)-d.Pos >= 4 && string(d.Doc[d.Pos:d.Pos+4]) == "null" {
		d.Pos += 4
		return true
	}
	return false
}

// Object parses an object, calling member for each key with the scanner
// just past the colon.
func (d *Scanner) Object(member func(key []byte) error) error {
	if err := d.Expect('{'); err != nil {
		return err
	}
	if d.Peek('}') {
		return nil
	}
	for {
		key, err := d.Str()
		if err != nil {
			return err
		}
		if err := d.Expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		if d.Peek(',') {
			continue
		}
		return d.Expect('}')
	}
}

// Array parses an array, calling elem for each element.
func (d *Scanner) Array(elem func() error) error {
	if err := d.Expect('['); err != nil {
		return err
	}
	if d.Peek(']') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if d.Peek(',') {
			continue
		}
		return d.Expect(']')
	}
}

// Str parses a string without escapes or control characters that is
// valid UTF-8, and returns its bytes, which alias the document.
func (d *Scanner) Str() ([]byte, error) {
	if err := d.Expect('"'); err != nil {
		return nil, err
	}
	start := d.Pos
	high := false
	for d.Pos < len(d.Doc) {
		c := d.Doc[d.Pos]
		switch {
		case c == '"':
			d.Pos++
			s := d.Doc[start : d.Pos-1]
			if high && !utf8.Valid(s) {
				return nil, ErrNotFast
			}
			return s, nil
		case c == '\\' || c < 0x20:
			return nil, ErrNotFast
		case c >= utf8.RuneSelf:
			high = true
		}
		d.Pos++
	}
	return nil, ErrNotFast
}

// Uint parses a plain decimal number without sign, fraction, exponent or
// leading zeros that is at most limit.
func (d *Scanner) Uint(limit uint64) (uint64, error) {
	d.Space()
	start := d.Pos
	var n uint64
	for d.Pos < len(d.Doc) && d.Doc[d.Pos] >= '0' && d.Doc[d.Pos] <= '9' {
		c := uint64(d.Doc[d.Pos] - '0')
		if n > (limit-c)/10 {
			return 0, ErrNotFast
		}
		n = n*10 + c
		d.Pos++
	}
	digits := d.Pos - start
	if digits == 0 || (digits > 1 && d.Doc[start] == '0') {
		return 0, ErrNotFast
	}
	if d.Pos < len(d.Doc) {
		switch d.Doc[d.Pos] {
		case '.', 'e', 'E':
			return 0, ErrNotFast
		}
	}
	return n, nil
}

// ID parses a string of 64 hex digits.
func (d *Scanner) ID(dst *id.ID) error {
	s, err := d.Str()
	if err != nil {
		return err
	}
	if len(s) != 2*id.Size {
		return ErrNotFast
	}
	if _, err := hex.Decode(dst[:], s); err != nil {
		return ErrNotFast
	}
	return nil
}
