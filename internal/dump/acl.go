package dump

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// The extended attributes in which Linux stores POSIX ACLs.
const (
	aclAccessXattr  = "system.posix_acl_access"
	aclDefaultXattr = "system.posix_acl_default"
)

// aclVersion is the only version of Linux's binary ACL format.
const aclVersion = 2

// Tags of the entries of a binary ACL.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

// aclText turns the binary value of a POSIX ACL attribute (a little-endian
// version word, then 8-byte entries of tag, permissions and ID) into the
// long text form, entries separated by commas and IDs numeric, such as
// "user::rw-,user:1000:r--,group::r--,mask::r--,other::---". It reports
// false for a value it cannot read.
func aclText(v []byte) (string, bool) {
	if len(v) < 4 || (len(v)-4)%8 != 0 || binary.LittleEndian.Uint32(v) != aclVersion {
		return "", false
	}
	var entries []string
	for e := v[4:]; len(e) > 0; e = e[8:] {
		tag := binary.LittleEndian.Uint16(e)
		perm := binary.LittleEndian.Uint16(e[2:])
		qual := strconv.FormatUint(uint64(binary.LittleEndian.Uint32(e[4:])), 10)
		var kind string
		switch tag {
		case aclUserObj:
			kind, qual = "user", ""
		case aclUser:
			kind = "user"
		case aclGroupObj:
			kind, qual = "group", ""
		case aclGroup:
			kind = "group"
		case aclMask:
			kind, qual = "mask", ""
		case aclOther:
			kind, qual = "other", ""
		default:
			return "", false
		}
		entries = append(entries, kind+":"+qual+":"+permText(perm))
	}
	if len(entries) == 0 {
		return "", false
	}
	return strings.Join(entries, ","), true
}

// permText is the rwx form of the low three permission bits.
func permText(p uint16) string {
	b := []byte("---")
	if p&4 != 0 {
		b[0] = 'r'
	}
	if p&2 != 0 {
		b[1] = 'w'
	}
	if p&1 != 0 {
		b[2] = 'x'
	}
	return string(b)
}
