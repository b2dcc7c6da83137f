package tree

import (
	"bytes"
	"encoding/base64"
	"os"
	"time"

	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/jsonscan"
)

// errNotFast means that decodeFast met something outside the layout it
// knows: an escape or a control character in a string, bytes that are not
// UTF-8, an unknown, repeated or differently cased key, a null inside a
// list, a number that is not a plain unsigned integer of the field's size.
// Decode then hands the blob to encoding/json, which either accepts it or
// names the error.
var errNotFast = jsonscan.ErrNotFast

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
	d := treeDecoder{Scanner: jsonscan.Scanner{Doc: doc}}
	// Every node starts so in the layout restic writes (extended
	// attributes do too, which only overestimates).
	nodes := make([]Node, 0, bytes.Count(doc, []byte(`{"name":`)))
	var ids []id.ID
	seen := false
	err := d.Object(func(key []byte) error {
		if string(key) != "nodes" || seen {
			return errNotFast
		}
		seen = true
		if d.Null() {
			return nil
		}
		return d.Array(func() error {
			nodes = append(nodes, Node{})
			var err error
			ids, err = d.node(&nodes[len(nodes)-1], ids)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	d.Space()
	if d.Pos != len(d.Doc) {
		return nil, errNotFast
	}
	t := &Tree{Nodes: make([]*Node, len(nodes))}
	for i := range nodes {
		t.Nodes[i] = &nodes[i]
	}
	return t, nil
}

type treeDecoder struct {
	jsonscan.Scanner

	// The previous node's strings, reused when the next has the same
	// (owners repeat in most directories).
	user, group string
}

func (d *treeDecoder) uint64(dst *uint64) error {
	n, err := d.Uint(1<<64 - 1)
	*dst = n
	return err
}

func (d *treeDecoder) uint32(dst *uint32) error {
	n, err := d.Uint(1<<32 - 1)
	*dst = uint32(n)
	return err
}

// time parses a time as time.Time's own JSON decoder does (it is called
// on the quoted literal); prev is the previous time's literal, whose value
// is copied when this one is the same.
func (d *treeDecoder) time(dst *time.Time, prev []byte, prevT time.Time) ([]byte, error) {
	d.Space()
	start := d.Pos
	if _, err := d.Str(); err != nil {
		return nil, err
	}
	lit := d.Doc[start:d.Pos]
	if prev != nil && string(lit) == string(prev) {
		*dst = prevT
		return lit, nil
	}
	if err := dst.UnmarshalJSON(lit); err != nil {
		return nil, errNotFast
	}
	return lit, nil
}

// bytes parses a base64 string as encoding/json does for a []byte: ""
// is an empty, non-nil slice.
func (d *treeDecoder) bytes() ([]byte, error) {
	s, err := d.Str()
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
	s, err := d.Str()
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
	err := d.Object(func(key []byte) error {
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
		if d.Null() {
			return nil // encoding/json leaves the zero value for null
		}
		var err error
		switch k {
		case kName:
			var s []byte
			if s, err = d.Str(); err != nil {
				return err
			}
			if n.Name, err = unquoteName(string(s)); err != nil {
				return errNotFast
			}
		case kType:
			var s []byte
			s, err = d.Str()
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
			if s, err = d.Str(); err == nil {
				if string(s) != d.user {
					d.user = string(s)
				}
				n.User = d.user
			}
		case kGroup:
			var s []byte
			if s, err = d.Str(); err == nil {
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
			err = d.Array(func() error {
				a, err := d.xattr()
				n.ExtendedAttributes = append(n.ExtendedAttributes, a)
				return err
			})
		case kDevice:
			err = d.uint64(&n.Device)
		case kContent:
			start := len(ids)
			err = d.Array(func() error {
				ids = append(ids, id.ID{})
				return d.ID(&ids[len(ids)-1])
			})
			if start == len(ids) {
				n.Content = emptyIDs
			} else {
				n.Content = ids[start:len(ids):len(ids)]
			}
		case kSubtree:
			n.Subtree = new(id.ID)
			err = d.ID(n.Subtree)
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
	err := d.Object(func(key []byte) error {
		var err error
		switch {
		case string(key) == "name" && !seenName:
			seenName = true
			if !d.Null() {
				a.Name, err = d.text()
			}
		case string(key) == "value" && !seenValue:
			seenValue = true
			if !d.Null() {
				a.Value, err = d.bytes()
			}
		default:
			err = errNotFast
		}
		return err
	})
	return a, err
}
