package index_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/blob"
	"github.com/cairn-backup/cairn/internal/id"
	"github.com/cairn-backup/cairn/internal/index"
)

// benchIndex is what both implementations offer to the benchmark.
type benchIndex interface {
	AddFile(*index.File)
	Has(blob.Handle) bool
	Lookup(blob.Handle) []blob.PackedBlob
	Len() int
}

// mix is splitmix64: synthetic IDs derive from a number, so the benchmark
// need not hold them in memory while it measures the index.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func synthID(n uint64) id.ID {
	var x id.ID
	for k := range 4 {
		binary.LittleEndian.PutUint64(x[k*8:], mix(n*4+uint64(k)))
	}
	return x
}

// synthHandle is blob n of the synthetic repository: one in twenty is a tree.
func synthHandle(n uint64) blob.Handle {
	t := blob.Data
	if n%20 == 0 {
		t = blob.Tree
	}
	return blob.Handle{ID: synthID(n), Type: t}
}

const (
	blobsPerPack = 2000
	packsPerFile = 50
)

// loadSynthetic adds n blobs to x as index files of packsPerFile packs of
// blobsPerPack blobs, built one file at a time so that only the index
// stays in memory.
func loadSynthetic(x benchIndex, n int) {
	next := uint64(0)
	for pack := uint64(0); next < uint64(n); {
		f := &index.File{}
		for range packsPerFile {
			if next >= uint64(n) {
				break
			}
			p := index.Pack{ID: synthID(1<<62 + pack)}
			pack++
			off := uint32(0)
			for range blobsPerPack {
				if next >= uint64(n) {
					break
				}
				l := uint32(500 + mix(next)%4000)
				p.Blobs = append(p.Blobs, blob.Blob{Handle: synthHandle(next), Offset: off, Length: l, UncompressedLength: l * 2})
				off += l
				next++
			}
			f.Packs = append(f.Packs, p)
		}
		x.AddFile(f)
	}
}

// rss returns the resident and peak resident set of this process in
// bytes, from /proc/self/status (0, 0 where there is none).
func rss() (cur, peak uint64) {
	doc, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(doc), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		switch k {
		case "VmRSS":
			cur = n << 10
		case "VmHWM":
			peak = n << 10
		}
	}
	return cur, peak
}

// resetPeak starts a new peak RSS measurement (Linux: clear_refs 5).
func resetPeak() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkIndex builds synthetic indexes of 1, 5 and 20 M blobs (5 %
// trees, packs of 2,000 blobs) with the sorted index and (up to 5 M) the
// old map index, and reports bytes per blob (heap in use and resident set
// grown, both after a collection), the peak resident set of the process
// while loading, load time and the time of one lookup that hits and one
// that misses. Run it with -benchtime 1x: each run builds the index once
// whatever b.N is, and run one size per process for a clean peak:
//
//	go test -run '^$' -bench 'BenchmarkIndex/sorted/20M' -benchtime 1x ./internal/index
//
// At 20 M blobs the whole process must stay within 2 GiB.
func BenchmarkIndex(b *testing.B) {
	impls := []struct {
		name string
		make func() benchIndex
		done func(benchIndex)
	}{
		{"sorted", func() benchIndex { return index.New() }, func(x benchIndex) { x.(*index.Index).Freeze() }},
		{"map", func() benchIndex { return newMapIndex() }, func(benchIndex) {}},
	}
	for _, n := range []int{1_000_000, 5_000_000, 20_000_000} {
		for _, impl := range impls {
			if impl.name == "map" && n > 5_000_000 {
				continue
			}
			b.Run(fmt.Sprintf("%s/%dM", impl.name, n/1_000_000), func(b *testing.B) {
				for b.Loop() {
					before := heapInuse()
					rssBefore, _ := rss()
					resetPeak()
					start := time.Now()
					x := impl.make()
					loadSynthetic(x, n)
					impl.done(x)
					load := time.Since(start)
					after := heapInuse()
					rssAfter, peak := rss()
					if n >= 20_000_000 && peak > 2<<30 {
						b.Fatalf("peak RSS %d MiB at %d blobs, more than 2 GiB", peak>>20, n)
					}
					if x.Len() != n {
						b.Fatalf("Len() = %d, want %d", x.Len(), n)
					}

					const lookups = 1_000_000
					hs := make([]blob.Handle, lookups)
					for i := range hs {
						hs[i] = synthHandle(mix(uint64(i)) % uint64(n))
					}
					start = time.Now()
					for _, h := range hs {
						if !x.Has(h) {
							b.Fatalf("Has(%v) = false", h)
						}
					}
					hit := time.Since(start)
					for i := range hs {
						hs[i] = synthHandle(uint64(n) + uint64(i))
					}
					start = time.Now()
					for _, h := range hs {
						if x.Has(h) {
							b.Fatalf("Has(%v) = true", h)
						}
					}
					miss := time.Since(start)
					for i := range hs {
						hs[i] = synthHandle(mix(uint64(i)) % uint64(n))
					}
					start = time.Now()
					for _, h := range hs {
						if len(x.Lookup(h)) != 1 {
							b.Fatalf("Lookup(%v) is not one copy", h)
						}
					}
					lookup := time.Since(start)

					b.ReportMetric(float64(after-before)/float64(n), "heap-B/blob")
					b.ReportMetric(float64(rssAfter-rssBefore)/float64(n), "rss-B/blob")
					b.ReportMetric(float64(peak>>20), "peak-MiB")
					b.ReportMetric(load.Seconds(), "load-s")
					b.ReportMetric(float64(hit.Nanoseconds())/lookups, "hit-ns")
					b.ReportMetric(float64(miss.Nanoseconds())/lookups, "miss-ns")
					b.ReportMetric(float64(lookup.Nanoseconds())/lookups, "lookup-ns")
					runtime.KeepAlive(x)
				}
			})
		}
	}
}
