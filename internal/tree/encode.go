package tree

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// bytesPerNode is a guess at the encoded size of a typical node, used to
// reserve space up front.
const bytesPerNode = 384

// Encode appends the JSON that restic writes for t to dst and returns the
// extended buffer. The ID of the tree blob is the SHA-256 of these bytes.
// Nodes are written in the order they are in; a nil Nodes slice is written
// as an empty list.
//
// Encode fails for a nil node or a time whose year, in its own zone, is
// outside [0, 9999]; restic's JSON encoder refuses those too.
func (t *Tree) Encode(dst []byte) ([]byte, error) {
	dst = slices.Grow(dst, 16+bytesPerNode*len(t.Nodes))
	dst = append(dst, `{"nodes":[`...)
	for i, n := range t.Nodes {
		if n == nil {
			return dst, fmt.Errorf("encode tree: node %d is nil", i)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = n.appendJSON(dst); err != nil {
			return dst, err
		}
	}
	return append(dst, "]}\n"...), nil
}

// appendJSON appends the JSON object restic writes for n.
func (n *Node) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"name":`...)
	dst = appendQuotedName(dst, n.Name)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, n.Type)
	if n.Mode != 0 {
		dst = append(dst, `,"mode":`...)
		dst = strconv.AppendUint(dst, uint64(n.Mode), 10)
	}
	for _, f := range [...]struct {
		key string
		t   time.Time
	}{{`,"mtime":`, n.ModTime}, {`,"atime":`, n.AccessTime}, {`,"ctime":`, n.ChangeTime}} {
		if y := f.t.Year(); y < 0 || y > 9999 {
			return dst, fmt.Errorf("encode node %q: %s year %d outside [0, 9999]", n.Name, f.key[2:7], y)
		}
		dst = append(dst, f.key...)
		dst = append(dst, '"')
		dst = f.t.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"uid":`...)
	dst = strconv.AppendUint(dst, uint64(n.UID), 10)
	dst = append(dst, `,"gid":`...)
	dst = strconv.AppendUint(dst, uint64(n.GID), 10)
	if n.User != "" {
		dst = append(dst, `,"user":`...)
		dst = appendString(dst, n.User)
	}
	if n.Group != "" {
		dst = append(dst, `,"group":`...)
		dst = appendString(dst, n.Group)
	}
	dst = appendUintField(dst, `,"inode":`, n.Inode)
	dst = appendUintField(dst, `,"device_id":`, n.DeviceID)
	dst = appendUintField(dst, `,"size":`, n.Size)
	dst = appendUintField(dst, `,"links":`, n.Links)
	if n.LinkTarget != "" {
		dst = append(dst, `,"linktarget":`...)
		dst = appendString(dst, n.LinkTarget)
	}
	if len(n.LinkTargetRaw) > 0 {
		dst = append(dst, `,"linktarget_raw":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, n.LinkTargetRaw)
		dst = append(dst, '"')
	}
	if len(n.ExtendedAttributes) > 0 {
		dst = append(dst, `,"extended_attributes":[`...)
		for i, a := range n.ExtendedAttributes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"name":`...)
			dst = appendString(dst, a.Name)
			dst = append(dst, `,"value":`...)
			if a.Value == nil {
				dst = append(dst, "null"...)
			} else {
				dst = append(dst, '"')
				dst = base64.StdEncoding.AppendEncode(dst, a.Value)
				dst = append(dst, '"')
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	dst = appendUintField(dst, `,"device":`, n.Device)
	dst = append(dst, `,"content":`...)
	if n.Content == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range n.Content {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = hex.AppendEncode(dst, n.Content[i][:])
			dst = append(dst, '"')
		}
		dst = append(dst, ']')
	}
	if n.Subtree != nil {
		dst = append(dst, `,"subtree":"`...)
		dst = hex.AppendEncode(dst, n.Subtree[:])
		dst = append(dst, '"')
	}
	if n.Error != "" {
		dst = append(dst, `,"error":`...)
		dst = appendString(dst, n.Error)
	}
	return append(dst, '}'), nil
}

// appendUintField appends key and v unless v is zero (omitempty).
func appendUintField(dst []byte, key string, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = append(dst, key...)
	return strconv.AppendUint(dst, v, 10)
}

const lowerHex = "0123456789abcdef"

// jsonSafe reports which ASCII bytes Go's encoding/json (with HTML escaping,
// as json.Marshal does) writes unchanged inside a string.
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		safe[b] = true
	}
	for _, b := range `"\<>&` {
		safe[b] = false
	}
	return safe
}()

// appendString appends s as a JSON string exactly as json.Marshal in Go 1.19
// wrote it: HTML-escaped, invalid UTF-8 replaced by \ufffd, U+2028 and
// U+2029 escaped, and control characters other than \n, \r and \t written
// as \u00XX. (Go 1.22 changed \b and \f to short escapes; restic 0.14 has
// the long form.)
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[b>>4], lowerHex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', lowerHex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
