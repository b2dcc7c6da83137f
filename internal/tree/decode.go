package tree

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cairn-backup/cairn/internal/id"
)

// nodeJSON has the keys of a node. Strings other than the name are decoded
// as [text] so that they encode to the same bytes again.
type nodeJSON struct {
	Name               string      `json:"name"`
	Type               text        `json:"type"`
	Mode               os.FileMode `json:"mode"`
	ModTime            time.Time   `json:"mtime"`
	AccessTime         time.Time   `json:"atime"`
	ChangeTime         time.Time   `json:"ctime"`
	UID                uint32      `json:"uid"`
	GID                uint32      `json:"gid"`
	User               text        `json:"user"`
	Group              text        `json:"group"`
	Inode              uint64      `json:"inode"`
	DeviceID           uint64      `json:"device_id"`
	Size               uint64      `json:"size"`
	Links              uint64      `json:"links"`
	LinkTarget         text        `json:"linktarget"`
	LinkTargetRaw      []byte      `json:"linktarget_raw"`
	ExtendedAttributes []struct {
		Name  text   `json:"name"`
		Value []byte `json:"value"`
	} `json:"extended_attributes"`
	Device  uint64  `json:"device"`
	Content []hexID `json:"content"`
	Subtree *hexID  `json:"subtree"`
	Error   text    `json:"error"`
}

// hexID is an [id.ID] with a faster JSON decoder than id's own.
type hexID id.ID

// UnmarshalJSON decodes a string of 64 hex digits.
func (h *hexID) UnmarshalJSON(b []byte) error {
	if len(b) != 2+2*id.Size || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("%w: %.80s", id.ErrInvalid, b)
	}
	if _, err := hex.Decode(h[:], b[1:len(b)-1]); err != nil {
		return fmt.Errorf("%w: %.80s", id.ErrInvalid, b)
	}
	return nil
}

// Decode parses a tree blob. Unknown keys are ignored, and names are
// unquoted. Errors wrap [ErrInvalidData]. Decode does not check that the
// nodes are sorted or unique.
//
// Decoding restic's bytes and encoding the result gives the same bytes. For
// that, a \ufffd escape in a string other than the name becomes the byte
// 0xff: Go's JSON encoder writes that escape only for a byte that is not
// UTF-8 (such as in a symlink target; restic 0.14 keeps no other trace of
// the original byte), while it writes a real U+FFFD unescaped.
func Decode(b []byte) (*Tree, error) {
	if t, err := decodeFast(b); err == nil {
		return t, nil
	}
	return decodeJSON(b)
}

// decodeJSON is Decode through encoding/json, for what decodeFast does
// not take.
func decodeJSON(b []byte) (*Tree, error) {
	var raw struct {
		Nodes []*nodeJSON `json:"nodes"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidData, err)
	}
	t := &Tree{Nodes: make([]*Node, len(raw.Nodes))}
	for i, nj := range raw.Nodes {
		if nj == nil {
			return nil, fmt.Errorf("%w: node %d is null", ErrInvalidData, i)
		}
		name, err := unquoteName(nj.Name)
		if err != nil {
			return nil, fmt.Errorf("%w: node %d: bad quoted name %q", ErrInvalidData, i, nj.Name)
		}
		n := &Node{
			Name: name, Type: string(nj.Type), Mode: nj.Mode,
			ModTime: nj.ModTime, AccessTime: nj.AccessTime, ChangeTime: nj.ChangeTime,
			UID: nj.UID, GID: nj.GID, User: string(nj.User), Group: string(nj.Group),
			Inode: nj.Inode, DeviceID: nj.DeviceID, Size: nj.Size, Links: nj.Links,
			LinkTarget: string(nj.LinkTarget), LinkTargetRaw: nj.LinkTargetRaw,
			Device: nj.Device, Error: string(nj.Error),
		}
		if nj.Content != nil {
			n.Content = make([]id.ID, len(nj.Content))
			for j, c := range nj.Content {
				n.Content[j] = id.ID(c)
			}
		}
		if nj.Subtree != nil {
			n.Subtree = (*id.ID)(nj.Subtree)
		}
		if nj.ExtendedAttributes != nil {
			n.ExtendedAttributes = make([]ExtendedAttribute, len(nj.ExtendedAttributes))
			for j, a := range nj.ExtendedAttributes {
				n.ExtendedAttributes[j] = ExtendedAttribute{Name: string(a.Name), Value: a.Value}
			}
		}
		t.Nodes[i] = n
	}
	return t, nil
}

// unquoteName undoes the strconv.Quote applied to a name.
func unquoteName(q string) (string, error) {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c < 0x20 || c == '\\' || c == '"' || c >= utf8.RuneSelf {
			return strconv.Unquote(`"` + q + `"`)
		}
	}
	return q, nil // plain ASCII: nothing to undo
}

// text is a string decoded as encoding/json does, except that the escape
// \ufffd becomes the byte 0xff (see [Decode]).
type text string

var errNotString = errors.New("not a JSON string")

// UnmarshalJSON decodes a JSON string literal; null leaves t unchanged.
func (t *text) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errNotString
	}
	b = b[1 : len(b)-1]
	simple := utf8.Valid(b)
	for _, c := range b {
		if c == '\\' {
			simple = false
			break
		}
	}
	if simple {
		*t = text(b)
		return nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\\':
			if i+1 >= len(b) {
				return errNotString
			}
			esc := b[i+1]
			i += 2
			switch esc {
			case '"', '\\', '/':
				out = append(out, esc)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(b[i:])
				if !ok {
					return errNotString
				}
				i += 4
				switch {
				case r == utf8.RuneError:
					out = append(out, 0xff)
					continue
				case utf16.IsSurrogate(r):
					// A valid pair is one rune; anything else is U+FFFD and
					// the second escape is decoded on its own.
					r2, ok := rune(0), false
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						r2, ok = hex4(b[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return errNotString
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			out = utf8.AppendRune(out, r) // invalid bytes become U+FFFD
			i += size
		}
	}
	*t = text(out)
	return nil
}

// hex4 parses four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
