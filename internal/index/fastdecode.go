package index

import (
	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/jsonscan"
)

// errNotFast means that decodeFast met something outside the index
// layout it knows: an escape in a string, an unknown or repeated key, a
// null, a number that is not a plain uint32. Decode then hands the
// document to encoding/json, which either accepts it or names the error.
var errNotFast = jsonscan.ErrNotFast

// decodeFast parses an index file without reflection, straight into its
// packs and blobs: loading the index is mostly this, and encoding/json
// spends most of its time finding fields and types. It accepts only what
// encoding/json decodes to the same File (the differential fuzz test
// FuzzDecodeFast holds the two together) and returns errNotFast for
// anything else, valid or not.
func decodeFast(doc []byte) (*File, error) {
	d := fastDecoder{Scanner: jsonscan.Scanner{Doc: doc}}
	var f File
	var seenSup, seenPacks bool
	err := d.Object(func(key []byte) error {
		switch string(key) {
		case "supersedes":
			if seenSup {
				return errNotFast
			}
			seenSup = true
			f.Supersedes = []id.ID{}
			return d.Array(func() error {
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
			return d.Array(func() error {
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
	d.Space()
	if d.Pos != len(d.Doc) {
		return nil, errNotFast
	}
	return &f, nil
}

type fastDecoder struct {
	jsonscan.Scanner
}

func (d *fastDecoder) id() (id.ID, error) {
	var x id.ID
	err := d.ID(&x)
	return x, err
}

// uint32 parses a plain decimal uint32 (see jsonscan.Scanner.Uint).
func (d *fastDecoder) uint32() (uint32, error) {
	n, err := d.Uint(1<<32 - 1)
	return uint32(n), err
}

func (d *fastDecoder) pack() (Pack, error) {
	var p Pack
	var seenID, seenBlobs bool
	err := d.Object(func(key []byte) error {
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
			return d.Array(func() error {
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
	err := d.Object(func(key []byte) error {
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
			if s, err = d.Str(); err != nil {
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
