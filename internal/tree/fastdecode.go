package tree

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"time"
	"unicode/utf8"

	"github.com/cairn-backup/cairn/internal/id"
)

// errNotFast means that decodeFast met something outside the layout it
// knows: an escape or a control character in a string, bytes that are not
// UTF-8, an unknown, repeated or differently cased key, a null inside a
// list, a number that is not a plain unsigned integer of the field's size.
// Decode then hands the blob to encoding/json, which either accepts it or
// names the error.
var errNotFast = errors.New("tree: not in the fast decoder's layout")

// emptyIDs is the non-nil empty content of an empty file ("content":[]).
var emptyIDs = []id.ID{}

// decodeFast parses a tree blob without reflection: loading the parent's
// trees is most of an unchanged backup's decoding, and encoding/json spends
// most of its time finding fields and types. It accepts only what the
// encoding/json path decodes to the same Tree (the differential fuzz test
// FuzzDecodeFast holds the two together) and returns errNotFast for
// anything else, valid or not.
//
// The nodes of a tree share one allocation, and so do their content lists
// (each capped at its own length, so that appending to one copies it).
func decodeFast(doc []byte) (*Tree, error) {
	d := treeDecoder{doc: doc}
	// Every node starts so in the layout restic writes (extended
	// attributes do too, which only overestimates).
	nodes := make([]Node, 0, bytes.Count(doc, []byte(`{"name":`)))
	var ids []id.ID
	seen := false
	err := d.object(func(key []byte) error {
		if string(key) != "nodes" || seen {
			return errNotFast
		}
		seen = true
		if d.null() {
			return nil
		}
		return d.array(func() error {
			nodes = append(nodes, Node{})
			var err error
			ids, err = d.node(&nodes[len(nodes)-1], ids)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	d.space()
	if d.pos != len(d.doc) {
		return nil, errNotFast
	}
	t := &Tree{Nodes: make([]*Node, len(nodes))}
	for i := range nodes {
		t.Nodes[i] = &nodes[i]
	}
	return t, nil
}

type treeDecoder struct {
	doc []byte
	pos int

	// The previous node's strings, reused when the next has the same
	// (owners repeat in most directories).
	user, group string
}

func (d *treeDecoder) space() {
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
func (d *treeDecoder) expect(c byte) error {
	d.space()
	if d.pos >= len(d.doc) || d.doc[d.pos] != c {
		return errNotFast
	}
	d.pos++
	return nil
}

// peek skips white space and reports whether the next byte is c,
// consuming it if so.
func (d *treeDecoder) peek(c byte) bool {
	d.space()
	if d.pos < len(d.doc) && d.doc[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// null skips white space and a null literal, if there is one.
func (d *treeDecoder) null() bool {
	d.space()
	if len(d.doc)-d.pos >= 4 && string(d.doc[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

// object parses an object, calling member for each key with the decoder
// just past the colon.
func (d *treeDecoder) object(member func(key []byte) error) error {
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
func (d *treeDecoder) array(elem func() error) error {
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

// str parses a string without escapes or control characters that is
// valid UTF-8, and returns its bytes, which alias the document.
func (d *treeDecoder) str() ([]byte, error) {
	if err := d.expect('"'); err != nil {
		return nil, err
	}
	start := d.pos
	high := false
	for d.pos < len(d.doc) {
		c := d.doc[d.pos]
		switch {
		case c == '"':
			d.pos++
			s := d.doc[start : d.pos-1]
			if high && !utf8.Valid(s) {
				return nil, errNotFast
			}
			return s, nil
		case c == '\\' || c < 0x20:
			return nil, errNotFast
		case c >= utf8.RuneSelf:
			high = true
		}
		d.pos++
	}
	return nil, errNotFast
}

// uint parses a plain decimal number without sign, fraction, exponent or
// leading zeros that is at most limit.
func (d *treeDecoder) uint(limit uint64) (uint64, error) {
	d.space()
	start := d.pos
	var n uint64
	for d.pos < len(d.doc) && d.doc[d.pos] >= '0' && d.doc[d.pos] <= '9' {
		c := uint64(d.doc[d.pos] - '0')
		if n > (limit-c)/10 {
			return 0, errNotFast
		}
		n = n*10 + c
		d.pos++
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
	return n, nil
}

func (d *treeDecoder) uint64(dst *uint64) error {
	n, err := d.uint(1<<64 - 1)
	*dst = n
	return err
}

func (d *treeDecoder) uint32(dst *uint32) error {
	n, err := d.uint(1<<32 - 1)
	*dst = uint32(n)
	return err
}

// time parses a time as time.Time's own JSON decoder does (it is called
// on the quoted literal); prev is the previous time's literal, whose value
// is copied when this one is the same.
func (d *treeDecoder) time(dst *time.Time, prev []byte, prevT time.Time) ([]byte, error) {
	d.space()
	start := d.pos
	if _, err := d.str(); err != nil {
		return nil, err
	}
	lit := d.doc[start:d.pos]
	if prev != nil && string(lit) == string(prev) {
		*dst = prevT
		return lit, nil
	}
	if err := dst.UnmarshalJSON(lit); err != nil {
		return nil, errNotFast
	}
	return lit, nil
}

func (d *treeDecoder) id(dst *id.ID) error {
	s, err := d.str()
	if err != nil {
		return err
	}
	if len(s) != 2*id.Size {
		return errNotFast
	}
	if _, err := hex.Decode(dst[:], s); err != nil {
		return errNotFast
	}
	return nil
}

// bytes parses a base64 string as encoding/json does for a []byte: ""
// is an empty, non-nil slice.
func (d *treeDecoder) bytes() ([]byte, error) {
	s, err := d.str()
	if err != nil {
		return nil, err
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, s)
	if err != nil {
		return nil, errNotFast
	}
	return b[:n], nil
}

// text parses a string other than the name. Without escapes, and valid
// UTF-8 as str requires, it is its bytes, as for [text].
func (d *treeDecoder) text() (string, error) {
	s, err := d.str()
	return string(s), err
}

// knownType returns the constant for a known type, so that it costs no
// allocation.
func knownType(s []byte) string {
	for _, t := range [...]string{TypeFile, TypeDir, TypeSymlink, TypeDev, TypeCharDev, TypeFifo, TypeSocket} {
		if string(s) == t {
			return t
		}
	}
	return string(s)
}

// node keys, for finding repeats.
const (
	kName = iota
	kType
	kMode
	kMtime
	kAtime
	kCtime
	kUID
	kGID
	kUser
	kGroup
	kInode
	kDeviceID
	kSize
	kLinks
	kLinkTarget
	kLinkTargetRaw
	kXattrs
	kDevice
	kContent
	kSubtree
	kError
	numKeys
)

// node parses one node into n, appending its content IDs to ids.
func (d *treeDecoder) node(n *Node, ids []id.ID) ([]id.ID, error) {
	var seen [numKeys]bool
	var mtime []byte
	err := d.object(func(key []byte) error {
		k := -1
		switch string(key) {
		case "name":
			k = kName
		case "type":
			k = kType
		case "mode":
			k = kMode
		case "mtime":
			k = kMtime
		case "atime":
			k = kAtime
		case "ctime":
			k = kCtime
		case "uid":
			k = kUID
		case "gid":
			k = kGID
		case "user":
			k = kUser
		case "group":
			k = kGroup
		case "inode":
			k = kInode
		case "device_id":
			k = kDeviceID
		case "size":
			k = kSize
		case "links":
			k = kLinks
		case "linktarget":
			k = kLinkTarget
		case "linktarget_raw":
			k = kLinkTargetRaw
		case "extended_attributes":
			k = kXattrs
		case "device":
			k = kDevice
		case "content":
			k = kContent
		case "subtree":
			k = kSubtree
		case "error":
			k = kError
		}
		if k < 0 || seen[k] {
			return errNotFast
		}
		seen[k] = true
		if d.null() {
			return nil // encoding/json leaves the zero value for null
		}
		var err error
		switch k {
		case kName:
			var s []byte
			if s, err = d.str(); err != nil {
				return err
			}
			if n.Name, err = unquoteName(string(s)); err != nil {
				return errNotFast
			}
		case kType:
			var s []byte
			s, err = d.str()
			n.Type = knownType(s)
		case kMode:
			var m uint32
			err = d.uint32(&m)
			n.Mode = os.FileMode(m)
		case kMtime:
			mtime, err = d.time(&n.ModTime, nil, time.Time{})
		case kAtime:
			_, err = d.time(&n.AccessTime, mtime, n.ModTime)
		case kCtime:
			_, err = d.time(&n.ChangeTime, mtime, n.ModTime)
		case kUID:
			err = d.uint32(&n.UID)
		case kGID:
			err = d.uint32(&n.GID)
		case kUser:
			var s []byte
			if s, err = d.str(); err == nil {
				if string(s) != d.user {
					d.user = string(s)
				}
				n.User = d.user
			}
		case kGroup:
			var s []byte
			if s, err = d.str(); err == nil {
				if string(s) != d.group {
					d.group = string(s)
				}
				n.Group = d.group
			}
		case kInode:
			err = d.uint64(&n.Inode)
		case kDeviceID:
			err = d.uint64(&n.DeviceID)
		case kSize:
			err = d.uint64(&n.Size)
		case kLinks:
			err = d.uint64(&n.Links)
		case kLinkTarget:
			n.LinkTarget, err = d.text()
		case kLinkTargetRaw:
			n.LinkTargetRaw, err = d.bytes()
		case kXattrs:
			n.ExtendedAttributes = []ExtendedAttribute{}
			err = d.array(func() error {
				a, err := d.xattr()
				n.ExtendedAttributes = append(n.ExtendedAttributes, a)
				return err
			})
		case kDevice:
			err = d.uint64(&n.Device)
		case kContent:
			start := len(ids)
			err = d.array(func() error {
				ids = append(ids, id.ID{})
				return d.id(&ids[len(ids)-1])
			})
			if start == len(ids) {
				n.Content = emptyIDs
			} else {
				n.Content = ids[start:len(ids):len(ids)]
			}
		case kSubtree:
			n.Subtree = new(id.ID)
			err = d.id(n.Subtree)
		case kError:
			n.Error, err = d.text()
		}
		return err
	})
	return ids, err
}

// xattr parses one extended attribute.
func (d *treeDecoder) xattr() (ExtendedAttribute, error) {
	var a ExtendedAttribute
	var seenName, seenValue bool
	err := d.object(func(key []byte) error {
		var err error
		switch {
		case string(key) == "name" && !seenName:
			seenName = true
			if !d.null() {
				a.Name, err = d.text()
			}
		case string(key) == "value" && !seenValue:
			seenValue = true
			if !d.null() {
				a.Value, err = d.bytes()
			}
		default:
			err = errNotFast
		}
		return err
	})
	return a, err
}
