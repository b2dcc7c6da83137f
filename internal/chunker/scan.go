package chunker

// The rolling hash is one long chain of dependent steps (shift, table load,
// xor), so a single window runs at the latency of that chain, well below
// what the core could do. scan therefore hashes in lanes: a block of
// positions is split into equal parts, each part warms its own window up
// from the 64 bytes before it (a digest depends only on the last 64 bytes),
// and the parts are stepped together so the core overlaps their chains.
// Cuts are rare (one per MiB on average, after the 512 KiB every chunk
// skips), so the work done past a cut by the later lanes is small.

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
		if end-p0 < minLaned {
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

	d0, d1, d2, d3 := D[0], D[1], D[2], D[3]
	mask := t.mask
	mod, out, in := &t.mod, &t.out, &t.in
	s1, s2, s3 = s1[:len(s0)], s2[:len(s0)], s3[:len(s0)]
	i := windowSize
	for ; i < len(s0); i++ {
		j := i - windowSize
		d0 = d0<<8 ^ mod[d0>>56] ^ in[s0[i]] ^ out[s0[j]]
		d1 = d1<<8 ^ mod[d1>>56] ^ in[s1[i]] ^ out[s1[j]]
		d2 = d2<<8 ^ mod[d2>>56] ^ in[s2[i]] ^ out[s2[j]]
		d3 = d3<<8 ^ mod[d3>>56] ^ in[s3[i]] ^ out[s3[j]]
		if d0&mask == 0 || d1&mask == 0 || d2&mask == 0 || d3&mask == 0 {
			break
		}
	}
	D = [lanes]uint64{d0, d1, d2, d3}
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
