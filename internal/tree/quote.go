package tree

import "unicode/utf8"

// nameSafe reports which ASCII bytes pass through both quoting layers of a
// node name (strconv.Quote, then a JSON string) unchanged.
var nameSafe = func() (safe [utf8.RuneSelf]bool) {
	for b := 0x20; b < 0x7f; b++ {
		safe[b] = true
	}
	for _, b := range `"\<>&` {
		safe[b] = false
	}
	return safe
}()

// shortEscapes maps the control bytes that strconv.Quote writes as a
// two-character escape to the letter after the backslash.
var shortEscapes = [...]byte{'\a': 'a', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't', '\v': 'v'}

// appendQuotedName appends the JSON string restic writes for a node name:
// strconv.Quote(name) without its surrounding quotes, as Go 1.19 computed it,
// then encoded as a JSON string. Both layers are done in one pass. The
// quoted form is valid UTF-8 without control characters, U+2028 or U+2029,
// so the JSON layer only adds backslashes and the HTML escapes.
func appendQuotedName(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if nameSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch {
			case b == '"':
				dst = append(dst, `\\\"`...) // \" from Quote, each char escaped for JSON
			case b == '\\':
				dst = append(dst, `\\\\`...)
			case b == '<':
				dst = append(dst, `\u003c`...)
			case b == '>':
				dst = append(dst, `\u003e`...)
			case b == '&':
				dst = append(dst, `\u0026`...)
			case int(b) < len(shortEscapes) && shortEscapes[b] != 0:
				dst = append(dst, '\\', '\\', shortEscapes[b])
			default: // other control characters and DEL
				dst = append(dst, '\\', '\\', 'x', lowerHex[b>>4], lowerHex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', '\\', 'x', lowerHex[b>>4], lowerHex[b&0xf])
			i++
			start = i
			continue
		}
		if isPrint(r) {
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		if r < 0x10000 {
			dst = append(dst, '\\', '\\', 'u')
			dst = appendHexRune(dst, r, 4)
		} else {
			dst = append(dst, '\\', '\\', 'U')
			dst = appendHexRune(dst, r, 8)
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendHexRune appends the low digits*4 bits of r as lowercase hex.
func appendHexRune(dst []byte, r rune, digits int) []byte {
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		dst = append(dst, lowerHex[(r>>shift)&0xf])
	}
	return dst
}

// isPrint reports whether strconv.IsPrint of Go 1.19 (Unicode 13.0.0)
// accepts r, which decides whether strconv.Quote writes r as is. The tables
// in print_table.go come from the restic 0.14.0 binary itself; the current
// Go's strconv.IsPrint cannot be used, as it follows a newer Unicode version
// and accepts thousands more runes.
func isPrint(r rune) bool {
	if r < utf8.RuneSelf {
		return 0x20 <= r && r < 0x7f
	}
	if r < 0x10000 {
		return inRanges(print16[:], uint16(r))
	}
	return inRanges(print32[:], uint32(r))
}

// inRanges reports whether v lies in one of the inclusive [lo, hi] pairs that
// make up the sorted list ranges.
func inRanges[T uint16 | uint32](ranges []T, v T) bool {
	// Binary search for the first pair whose hi is >= v.
	lo, hi := 0, len(ranges)/2
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ranges[2*m+1] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(ranges)/2 && ranges[2*lo] <= v
}
