package index

import (
	"encoding/hex"
	"errors"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
)

// errNotFast means that decodeFast met something outside the index
// layout it knows: an escape in a string, an unknown or repeated key, a
// null, a number that is not a plain uint32. Decode then hands the
// document to encoding/json, which either accepts it or names the error.
var errNotFast = errors.New("index: not in the fast decoder's layout")

// decodeFast parses an index file without reflection, straight into its
// packs and blobs: loading the index is mostly this, and encoding/json
// spends most of its time finding fields and types. It accepts only what
// encoding/json decodes to the same File (the differential fuzz test
// FuzzDecodeFast holds the two together) and returns errNotFast for
// anything else, valid or not.
func decodeFast(doc []byte) (*File, error) {
	d := fastDecoder{doc: doc}
	var f File
	var seenSup, seenPacks bool
	err := d.object(func(key []byte) error {
		switch string(key) {
		case "supersedes":
			if seenSup {
				return errNotFast
			}
			seenSup = true
			f.Supersedes = []id.ID{}
			return d.array(func() error {
				x, err := d.id()
				f.Supersedes = append(f.Supersedes, x)
				return err
			})
		case "packs":
			if seenPacks {
				return errNotFast
			}
			seenPacks = true
			f.Packs = []Pack{}
			return d.array(func() error {
				p, err := d.pack()
				f.Packs = append(f.Packs, p)
				return err
			})
		}
		return errNotFast
	})
	if err != nil {
		return nil, err
	}
	d.space()
	if d.pos != len(d.doc) {
		return nil, errNotFast
	}
	return &f, nil
}

type fastDecoder struct {
	doc []byte
	pos int
}

func (d *fastDecoder) space() {
	for d.pos < len(d.doc) {
		switch d.doc[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// expect skips white space and the byte c.
func (d *fastDecoder) expect(c byte) error {
	d.space()
	if d.pos >= len(d.doc) || d.doc[d.pos] != c {
		return errNotFast
	}
	d.pos++
	return nil
}

// peek skips white space and reports whether the next byte is c,
// consuming it if so.
func (d *fastDecoder) peek(c byte) bool {
	d.space()
	if d.pos < len(d.doc) && d.doc[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// object parses an object, calling member for each key with the decoder
// just past the colon.
func (d *fastDecoder) object(member func(key []byte) error) error {
	if err := d.expect('{'); err != nil {
		return err
	}
	if d.peek('}') {
		return nil
	}
	for {
		key, err := d.str()
		if err != nil {
			return err
		}
		if err := d.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		if d.peek(',') {
			continue
		}
		return d.expect('}')
	}
}

// array parses an array, calling elem for each element.
func (d *fastDecoder) array(elem func() error) error {
	if err := d.expect('['); err != nil {
		return err
	}
	if d.peek(']') {
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if d.peek(',') {
			continue
		}
		return d.expect(']')
	}
}

// str parses a string without escapes or control characters and returns
// its bytes, which alias the document.
func (d *fastDecoder) str() ([]byte, error) {
	if err := d.expect('"'); err != nil {
		return nil, err
	}
	start := d.pos
	for d.pos < len(d.doc) {
		c := d.doc[d.pos]
		switch {
		case c == '"':
			d.pos++
			return d.doc[start : d.pos-1], nil
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, errNotFast
		}
		d.pos++
	}
	return nil, errNotFast
}

func (d *fastDecoder) id() (id.ID, error) {
	var x id.ID
	s, err := d.str()
	if err != nil {
		return x, err
	}
	if len(s) != 2*id.Size {
		return x, errNotFast
	}
	if _, err := hex.Decode(x[:], s); err != nil {
		return x, errNotFast
	}
	return x, nil
}

// uint32 parses a number that is a plain decimal uint32 without leading
// zeros.
func (d *fastDecoder) uint32() (uint32, error) {
	d.space()
	start := d.pos
	var n uint64
	for d.pos < len(d.doc) && d.doc[d.pos] >= '0' && d.doc[d.pos] <= '9' {
		n = n*10 + uint64(d.doc[d.pos]-'0')
		d.pos++
		if n > 1<<32-1 {
			return 0, errNotFast
		}
	}
	digits := d.pos - start
	if digits == 0 || (digits > 1 && d.doc[start] == '0') {
		return 0, errNotFast
	}
	if d.pos < len(d.doc) {
		switch d.doc[d.pos] {
		case '.', 'e', 'E':
			return 0, errNotFast
		}
	}
	return uint32(n), nil
}

func (d *fastDecoder) pack() (Pack, error) {
	var p Pack
	var seenID, seenBlobs bool
	err := d.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			if seenID {
				return errNotFast
			}
			seenID = true
			p.ID, err = d.id()
			return err
		case "blobs":
			if seenBlobs {
				return errNotFast
			}
			seenBlobs = true
			p.Blobs = []blob.Blob{}
			return d.array(func() error {
				b, err := d.blob()
				p.Blobs = append(p.Blobs, b)
				return err
			})
		}
		return errNotFast
	})
	return p, err
}

func (d *fastDecoder) blob() (blob.Blob, error) {
	var b blob.Blob
	var seen [5]bool
	once := func(i int) error {
		if seen[i] {
			return errNotFast
		}
		seen[i] = true
		return nil
	}
	err := d.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			if err = once(0); err == nil {
				b.ID, err = d.id()
			}
		case "type":
			if err = once(1); err != nil {
				return err
			}
			var s []byte
			if s, err = d.str(); err != nil {
				return err
			}
			switch string(s) {
			case "data":
				b.Type = blob.Data
			case "tree":
				b.Type = blob.Tree
			default:
				return errNotFast
			}
		case "offset":
			if err = once(2); err == nil {
				b.Offset, err = d.uint32()
			}
		case "length":
			if err = once(3); err == nil {
				b.Length, err = d.uint32()
			}
		case "uncompressed_length":
			if err = once(4); err == nil {
				b.UncompressedLength, err = d.uint32()
			}
		default:
			err = errNotFast
		}
		return err
	})
	return b, err
}
