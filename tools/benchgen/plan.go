package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path"
	"time"
)

// contentKind says how a file's bytes are made.
type contentKind uint8

const (
	randomContent contentKind = iota // incompressible
	textContent                      // prose, logs or CSV; zstd takes it to a third or less
)

// fileSpec is one file of the data set. Its bytes follow from kind, size
// and seed alone, so files can be written in any order and in parallel.
type fileSpec struct {
	path  string // relative, slash-separated
	size  int64
	kind  contentKind
	seed  uint64
	mtime time.Time
}

// plan is the whole data set: directories (parents first) and files.
type plan struct {
	dirs  []string
	files []fileSpec
	bytes int64
}

// Shares of the total size, in percent; small files make up the rest.
const (
	randomShare = 60
	textShare   = 15
)

// Limits of the three families of files.
const (
	smallMin   = 100
	smallMax   = 32 * kiB
	randomMin  = 1 * miB
	randomMax  = 64 * miB
	hugeMin    = 200 * miB
	hugeSpread = 80 * miB
	textMin    = 16 * kiB
	textMax    = 8 * miB
	maxDirs    = 1000
	maxDepth   = 8
)

// epoch is the earliest modification time given to a generated file.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// makePlan lays out a data set of about total bytes; the same total and
// seed give the same plan.
func makePlan(total int64, seed uint64) plan {
	rng := rand.New(rand.NewPCG(seed, 0x62656e6367656e)) // "bencgen"
	var p plan

	randomBudget := total * randomShare / 100
	textBudget := total * textShare / 100
	smallBudget := total - randomBudget - textBudget
	smallCount := int(smallBudget / ((smallMin + smallMax) / 2))

	p.dirs = makeDirs(rng, min(max(smallCount/30, 8), maxDirs))
	dirFor := func() string { return p.dirs[rng.IntN(len(p.dirs))] }
	add := func(kind contentKind, size int64, exts []string) {
		name := fmt.Sprintf("%s-%d%s", words[rng.IntN(len(words))], len(p.files), exts[rng.IntN(len(exts))])
		p.files = append(p.files, fileSpec{
			path:  path.Join(dirFor(), name),
			size:  size,
			kind:  kind,
			seed:  rng.Uint64(),
			mtime: epoch.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Second),
		})
		p.bytes += size
	}

	// A few huge files when the budget has room for them beside the rest.
	for range min(3, randomBudget/(600*miB)) {
		size := hugeMin + rng.Int64N(hugeSpread)
		add(randomContent, size, binaryExts)
		randomBudget -= size
	}
	for _, size := range splitBudget(rng, randomBudget, randomMin, min(max(randomBudget/6, randomMin), randomMax)) {
		add(randomContent, size, binaryExts)
	}
	for _, size := range splitBudget(rng, textBudget, textMin, min(max(textBudget/6, textMin), textMax)) {
		add(textContent, size, textExts)
	}
	for range smallCount {
		kind, exts := randomContent, binaryExts
		if rng.IntN(2) == 0 {
			kind, exts = textContent, textExts
		}
		add(kind, smallMin+rng.Int64N(smallMax-smallMin+1), exts)
	}
	return p
}

// splitBudget cuts budget into sizes drawn log-uniformly from [lo, hi];
// the last one takes what is left, so the sizes add up to budget.
func splitBudget(rng *rand.Rand, budget, lo, hi int64) []int64 {
	var sizes []int64
	for budget > 0 {
		size := lo
		if hi > lo {
			size = int64(float64(lo) * math.Pow(float64(hi)/float64(lo), rng.Float64()))
		}
		if budget-size < lo {
			size = budget
		}
		sizes = append(sizes, size)
		budget -= size
	}
	return sizes
}

// makeDirs returns n directory paths, parents first, forming a random tree
// at most maxDepth deep under the root ("" is the root and the first entry).
func makeDirs(rng *rand.Rand, n int) []string {
	dirs := []string{""}
	depth := []int{0}
	for len(dirs) < n {
		parent := rng.IntN(len(dirs))
		if depth[parent] >= maxDepth {
			continue
		}
		name := fmt.Sprintf("%s-%d", words[rng.IntN(len(words))], len(dirs))
		dirs = append(dirs, path.Join(dirs[parent], name))
		depth = append(depth, depth[parent]+1)
	}
	return dirs
}
