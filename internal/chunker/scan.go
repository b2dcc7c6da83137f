package chunker

// The rolling hash is one long chain of dependent steps (shift, table load,
// xor), so a single window runs at the latency of that chain, well below
// what the core could do. scan therefore hashes in lanes: a block of
// positions is split into equal parts, each part warms its own window up
// from the 64 bytes before it (a digest depends only on the last 64 bytes),
// and the parts are stepped together so the core overlaps their chains.
// Cuts are rare (one per MiB on average, after the 512 KiB every chunk
// skips), so the work done past a cut by the later lanes is small.
//
// Four lanes is what the amd64 registers hold without spilling in Go (six
// and eight spilled and measured no better). A full block has lanes at
// constant distances (scanBlock), so one index register reaches all four;
// a partial block at the end of a read buffer or a chunk uses scanLanes.

const (
	lanes = 4
	// block is how many positions one round of lanes covers. Smaller
	// blocks waste less past a cut; larger ones warm up less often.
	block = 64 << 10
	// minLaned is the fewest positions worth splitting into lanes.
	minLaned = 1024
)

// scan looks for the first position p in [p0, p1) whose window
// buf[p-63:p+1] hashes to a digest with the split bits clear. It returns p
// and the top-aligned digest there, or -1 and the digest at p1-1. The
// caller guarantees 64 <= p0 < p1 <= len(buf).
func (t *tables) scan(buf []byte, p0, p1 int) (int, uint64) {
	for {
		end := min(p0+block, p1)
		var hit int
		var D uint64
		if end-p0 == block {
			hit, D = t.scanBlock(buf[p0-windowSize : end])
			if hit >= 0 {
				hit += p0 - windowSize
			}
		} else if end-p0 < minLaned {
			D = t.hashWindow(buf[p0-windowSize : p0])
			hit, D = t.roll(buf, p0, end, D)
		} else {
			hit, D = t.scanLanes(buf, p0, end)
		}
		if hit >= 0 || end == p1 {
			return hit, D
		}
		p0 = end
	}
}

// roll steps the digest D of the window ending at from-1 through the
// positions [from, to), buf[p-64] leaving as buf[p] enters, and stops at
// the first hit. It returns the hit (or -1) and the digest there (or at
// to-1). It needs from >= 64.
func (t *tables) roll(buf []byte, from, to int, D uint64) (int, uint64) {
	s := buf[from-windowSize : to]
	mask := t.mask
	mod, out, in := &t.mod, &t.out, &t.in
	for i := windowSize; i < len(s); i++ {
		D = D<<8 ^ mod[D>>56] ^ in[s[i]] ^ out[s[i-windowSize]]
		if D&mask == 0 {
			return from - windowSize + i, D
		}
	}
	return -1, D
}

// scanLanes is scan over one block, p1-p0 >= minLaned.
func (t *tables) scanLanes(buf []byte, p0, p1 int) (int, uint64) {
	n := (p1 - p0) / lanes
	var q [lanes]int
	for l := range q {
		q[l] = p0 + l*n
	}
	// Lane l covers positions [q[l], q[l]+n); s_l starts 64 bytes before
	// them so that s_l[i-64] is the byte leaving when s_l[i] enters.
	s0 := buf[q[0]-windowSize : q[0]+n]
	s1 := buf[q[1]-windowSize : q[1]+n]
	s2 := buf[q[2]-windowSize : q[2]+n]
	s3 := buf[q[3]-windowSize : q[3]+n]
	var D [lanes]uint64
	D[0], D[1], D[2], D[3] = t.hashWindows4(s0[:windowSize], s1[:windowSize], s2[:windowSize], s3[:windowSize])

	i, d0, d1, d2, d3 := t.step4(s0, s1, s2, s3, D[0], D[1], D[2], D[3])
	D = [lanes]uint64{d0, d1, d2, d3}
	mask := t.mask
	if i < len(s0) {
		// Some lane hit at offset i. The first hit in position order is
		// in the first lane that has one, from i on.
		at := i - windowSize // positions q[l]+at have been hashed
		for l := range lanes {
			if D[l]&mask == 0 {
				return q[l] + at, D[l]
			}
			if hit, d := t.roll(buf, q[l]+at+1, q[l]+n, D[l]); hit >= 0 {
				return hit, d
			}
		}
		panic("chunker: lost a hit")
	}
	if rest := p0 + lanes*n; rest < p1 {
		return t.roll(buf, rest, p1, D[lanes-1])
	}
	return -1, D[lanes-1]
}

// step4 rolls four lanes together, lane l shifting in s_l[64:] as
// s_l[i-64] leaves, until one of them hits. It returns the offset i of that
// hit (len(s0) if none) and the four digests at it. The lanes are as long
// as s0.
func (t *tables) step4(s0, s1, s2, s3 []byte, d0, d1, d2, d3 uint64) (int, uint64, uint64, uint64, uint64) {
	mask := t.mask
	s1, s2, s3 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)]
	i := windowSize
	for ; i < len(s0); i++ {
		j := i - windowSize
		x0, x1, x2, x3 := d0>>56, d1>>56, d2>>56, d3>>56
		d0 = d0<<8 ^ t.in[s0[i]] ^ t.out[s0[j]] ^ t.mod[x0]
		d1 = d1<<8 ^ t.in[s1[i]] ^ t.out[s1[j]] ^ t.mod[x1]
		d2 = d2<<8 ^ t.in[s2[i]] ^ t.out[s2[j]] ^ t.mod[x2]
		d3 = d3<<8 ^ t.in[s3[i]] ^ t.out[s3[j]] ^ t.mod[x3]
		if d0&mask == 0 || d1&mask == 0 || d2&mask == 0 || d3&mask == 0 {
			break
		}
	}
	return i, d0, d1, d2, d3
}

// hashWindows4 is hashWindow of four windows at once.
func (t *tables) hashWindows4(w0, w1, w2, w3 []byte) (d0, d1, d2, d3 uint64) {
	mod, in := &t.mod, &t.in
	w1, w2, w3 = w1[:len(w0)], w2[:len(w0)], w3[:len(w0)]
	for i := range w0 {
		d0 = d0<<8 ^ mod[d0>>56] ^ in[w0[i]]
		d1 = d1<<8 ^ mod[d1>>56] ^ in[w1[i]]
		d2 = d2<<8 ^ mod[d2>>56] ^ in[w2[i]]
		d3 = d3<<8 ^ mod[d3>>56] ^ in[w3[i]]
	}
	return
}

// laneLen is the length of each lane of a full block.
const laneLen = block / lanes

// scanBlock is scan over a full block, s = buf[p0-64 : p0+block], with
// lanes at fixed distances so that one index reaches all four. It returns
// the hit as an offset in s.
func (t *tables) scanBlock(s []byte) (int, uint64) {
	s = s[:windowSize+block]
	d0, d1, d2, d3 := t.hashWindows4(s[0:windowSize], s[laneLen:laneLen+windowSize],
		s[2*laneLen:2*laneLen+windowSize], s[3*laneLen:3*laneLen+windowSize])
	mask := t.mask
	i := windowSize
	for ; i < windowSize+laneLen; i++ {
		j := i - windowSize
		x0, x1, x2, x3 := d0>>56, d1>>56, d2>>56, d3>>56
		d0 = d0<<8 ^ t.in[s[i]] ^ t.out[s[j]] ^ t.mod[x0]
		d1 = d1<<8 ^ t.in[s[i+laneLen]] ^ t.out[s[j+laneLen]] ^ t.mod[x1]
		d2 = d2<<8 ^ t.in[s[i+2*laneLen]] ^ t.out[s[j+2*laneLen]] ^ t.mod[x2]
		d3 = d3<<8 ^ t.in[s[i+3*laneLen]] ^ t.out[s[j+3*laneLen]] ^ t.mod[x3]
		if d0&mask == 0 || d1&mask == 0 || d2&mask == 0 || d3&mask == 0 {
			break
		}
	}
	if i == windowSize+laneLen {
		return -1, d3
	}
	// Offsets in s: lane l's position at step i is i + l*laneLen.
	D := [lanes]uint64{d0, d1, d2, d3}
	for l := range lanes {
		at := i + l*laneLen
		if D[l]&mask == 0 {
			return at, D[l]
		}
		if hit, d := t.roll(s, at+1, (l+1)*laneLen+windowSize, D[l]); hit >= 0 {
			return hit, d
		}
	}
	panic("chunker: lost a hit")
}
