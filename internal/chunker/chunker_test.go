package chunker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	rc "github.com/restic/chunker"
)

// testPols are valid polynomials: the one the archiver tests use, and a few
// derived from seeded sources the way restic derives them (degree 53).
var testPols = func() []Pol {
	pols := []Pol{0x3DA3358B4DC173}
	for seed := range uint64(3) {
		p, err := rc.DerivePolynomial(rand.NewChaCha8([32]byte{byte(seed), 7}))
		if err != nil {
			panic(err)
		}
		pols = append(pols, p)
	}
	return pols
}()

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := i; j < min(i+8, n); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return b
}

type nexter interface {
	Next([]byte) (Chunk, error)
}

// collect returns every chunk (with copied data) up to the first error.
func collect(c nexter) ([]Chunk, error) {
	var out []Chunk
	buf := make([]byte, 0, MaxSize)
	for {
		ch, err := c.Next(buf)
		if err != nil {
			return out, err
		}
		if len(ch.Data) > 0 && &ch.Data[0] != &buf[:1][0] {
			return out, fmt.Errorf("chunk %d data is not in the buffer", len(out))
		}
		ch.Data = bytes.Clone(ch.Data)
		out = append(out, ch)
	}
}

// compare fails t unless both chunk lists and their final errors match.
func compare(t *testing.T, want []Chunk, wantErr error, got []Chunk, gotErr error) {
	t.Helper()
	if !errors.Is(gotErr, wantErr) && (gotErr == nil || wantErr == nil || gotErr.Error() != wantErr.Error()) {
		t.Errorf("error %v, want %v", gotErr, wantErr)
	}
	if len(got) != len(want) {
		t.Errorf("%d chunks, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.Start != w.Start || g.Length != w.Length || g.Cut != w.Cut || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("chunk %d: start %d length %d cut %#x, want start %d length %d cut %#x (data equal: %v)",
				i, g.Start, g.Length, g.Cut, w.Start, w.Length, w.Cut, bytes.Equal(g.Data, w.Data))
			return
		}
	}
}

// check chunks data with both chunkers, each reading through wrap, and
// compares the results.
func check(t *testing.T, data []byte, pol Pol, wrap func(io.Reader) io.Reader) {
	t.Helper()
	want, wantErr := collect(rc.New(wrap(bytes.NewReader(data)), pol))
	got, gotErr := collect(New(wrap(bytes.NewReader(data)), pol))
	compare(t, want, wantErr, got, gotErr)
}

func plain(r io.Reader) io.Reader { return r }

// sizes are stream lengths around every boundary the two chunkers have:
// restic's and this package's reads, MinSize, MaxSize, and the lanes' block.
var sizes = []int{
	0, 1, 63, 64, 65, 1000,
	MinSize - 65, MinSize - 64, MinSize - 63, MinSize - 2,
	MinSize - 1, MinSize, MinSize + 1, MinSize + block + 3,
	readSize - 1, readSize, readSize + 1, readSize + histLen,
	MaxSize - 1, MaxSize, MaxSize + 1, 2*MaxSize + 12345,
}

func TestRandomSizes(t *testing.T) {
	for _, n := range sizes {
		data := randomBytes(uint64(n), n)
		for _, pol := range testPols {
			t.Run(fmt.Sprintf("%d/%v", n, pol), func(t *testing.T) { check(t, data, pol, plain) })
		}
	}
}

func TestLarge(t *testing.T) {
	n := 50<<20 + 777
	if raceEnabled {
		n = 20<<20 + 777 // the race detector makes the hashing ~20x slower
	}
	data := randomBytes(99, n)
	for _, pol := range testPols[:2] {
		check(t, data, pol, plain)
	}
}

func TestConstantData(t *testing.T) {
	for _, fill := range []byte{0, 1, 0xff} {
		for _, n := range []int{MaxSize - 1, MaxSize, MaxSize + 1, 3*MaxSize + 4321} {
			data := bytes.Repeat([]byte{fill}, n)
			t.Run(fmt.Sprintf("%#x/%d", fill, n), func(t *testing.T) { check(t, data, testPols[0], plain) })
		}
	}
}

// TestPeriodicData chunks a short pattern repeated: its cuts come either
// nowhere (MaxSize cuts) or at the pattern's period, so hits land in
// every lane and at block edges.
func TestPeriodicData(t *testing.T) {
	step := 13
	if raceEnabled {
		step = 47
	}
	for period := 1; period <= 200; period += step {
		pat := randomBytes(uint64(period), period)
		data := bytes.Repeat(pat, (2*MaxSize+100)/period)
		check(t, data, testPols[1], plain)
	}
}

func TestShortReads(t *testing.T) {
	data := randomBytes(5, 3*MaxSize+99)
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"one-byte":  iotest.OneByteReader,
		"half":      iotest.HalfReader,
		"data-err":  iotest.DataErrReader,
		"odd-sizes": func(r io.Reader) io.Reader { return &oddReader{r: r} },
	} {
		t.Run(name, func(t *testing.T) { check(t, data, testPols[2], wrap) })
	}
}

// oddReader returns reads of varying odd sizes.
type oddReader struct {
	r io.Reader
	n int
}

func (o *oddReader) Read(p []byte) (int, error) {
	o.n = (o.n*7 + 13) % 200003
	return o.r.Read(p[:min(len(p), o.n+1)])
}

// failAfter returns its reader's bytes up to n, then err.
type failAfter struct {
	r   io.Reader
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	m, err := f.r.Read(p[:min(len(p), f.n)])
	f.n -= m
	return m, err
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	data := randomBytes(6, 6*MaxSize)
	ats := []int{0, 1, MinSize - 1, resticBlock, resticBlock + 1, readSize - 1, readSize, readSize + 1,
		3*resticBlock + 17, MaxSize, MaxSize + resticBlock - 1, 2*MaxSize + 5, 5*MaxSize + 3}
	// Errors just after a cut, and at the end of the block holding it:
	// restic never returns that chunk, as it drops the whole block.
	cuts, err := collect(rc.New(bytes.NewReader(data), testPols[0]))
	if err != io.EOF || len(cuts) < 5 {
		t.Fatalf("reference: %d chunks, %v", len(cuts), err)
	}
	for _, ch := range cuts[:4] {
		end := int(ch.Start + ch.Length)
		ats = append(ats, end+1, (end/resticBlock+1)*resticBlock-1, end)
	}
	for _, at := range ats {
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"plain": plain, "half": iotest.HalfReader,
		} {
			t.Run(fmt.Sprintf("%d/%s", at, name), func(t *testing.T) {
				check(t, data, testPols[0], func(r io.Reader) io.Reader { return wrap(&failAfter{r: r, n: at, err: boom}) })
			})
		}
	}
}

func TestErrorIsSticky(t *testing.T) {
	boom := errors.New("boom")
	c := New(&failAfter{r: bytes.NewReader(randomBytes(1, MaxSize)), n: 10, err: boom}, testPols[0])
	for range 3 {
		if _, err := c.Next(nil); err != boom {
			t.Fatalf("Next: %v, want %v", err, boom)
		}
	}
}

func TestBadPolynomial(t *testing.T) {
	data := randomBytes(2, 1000)
	for _, pol := range []Pol{0, 1, 0xff, 1 << 54, 1<<63 | 1} {
		check(t, data, pol, plain)
	}
}

func TestEOFRepeats(t *testing.T) {
	c := New(bytes.NewReader(randomBytes(3, MinSize+10)), testPols[0])
	if _, err := c.Next(nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.Next(nil); err != io.EOF {
			t.Fatalf("Next after the last chunk: %v, want io.EOF", err)
		}
	}
}

// TestReset reuses one chunker (and one of restic's) across streams of
// different sizes and polynomials, each stream stopped at a different
// point, including part way.
func TestReset(t *testing.T) {
	mine := New(nil, testPols[0])
	ref := rc.New(nil, testPols[0])
	for i, n := range []int{3 * MaxSize, 10, 0, MaxSize + 1, MinSize, 2*MaxSize + 7, 1} {
		data := randomBytes(uint64(100+i), n)
		pol := testPols[i%len(testPols)]
		ref.Reset(bytes.NewReader(data), pol)
		mine.Reset(bytes.NewReader(data), pol)
		want, wantErr := collect(ref)
		got, gotErr := collect(mine)
		compare(t, want, wantErr, got, gotErr)

		// Leave the next stream half read.
		ref.Reset(bytes.NewReader(data), pol)
		mine.Reset(bytes.NewReader(data), pol)
		if _, err := mine.Next(nil); err != nil && err != io.EOF {
			t.Fatal(err)
		}
	}
}

// TestSmallBuffer checks that a buffer without room still gets the data.
func TestSmallBuffer(t *testing.T) {
	data := randomBytes(8, 2*MaxSize)
	c := New(bytes.NewReader(data), testPols[0])
	var all []byte
	for {
		ch, err := c.Next(make([]byte, 3))
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ch.Data...)
	}
	if !bytes.Equal(all, data) {
		t.Fatal("chunks do not add up to the data")
	}
}
