package filter_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cairn-backup/cairn/internal/filter"
)

// benchPatterns is a typical exclude file of 20 lines.
var benchPatterns = []string{
	"*.o", "*.tmp", "*~", "*.swp", "*.py[cod]", "*.log", "!important.log",
	".git", "node_modules", "__pycache__", ".DS_Store", "Thumbs.db", ".Trash-*",
	"/proc", "/sys", "/var/cache/apt/archives", "/home/*/.cache",
	"/home/user/Downloads", "target/**/*.jar", "build/**/*.class",
}

// benchPaths returns n deterministic absolute paths 3 to 10 components
// deep, drawn from names that the patterns sometimes match.
func benchPaths(n int) []string {
	dirs := []string{"home", "user", "src", "project", "lib", "var", "cache", "build",
		"target", "pkg", "internal", "docs", "node_modules", ".git", "Downloads", "com", "example"}
	files := []string{"main.go", "README.md", "a.o", "x.tmp", "notes.txt~", "m.pyc", "app.log",
		"important.log", "lib.jar", "Foo.class", "index.js", "photo.jpg", "data.csv"}
	rng := rand.New(rand.NewPCG(1, 2))
	paths := make([]string, n)
	var b strings.Builder
	for i := range paths {
		b.Reset()
		depth := 2 + rng.IntN(8)
		for range depth {
			b.WriteByte('/')
			b.WriteString(dirs[rng.IntN(len(dirs))])
		}
		fmt.Fprintf(&b, "/%s", files[rng.IntN(len(files))])
		paths[i] = b.String()
	}
	return paths
}

func BenchmarkMatch(b *testing.B) {
	paths := benchPaths(10000)
	for _, fold := range []bool{false, true} {
		b.Run(fmt.Sprintf("fold=%v", fold), func(b *testing.B) {
			ps := mustParse(b, benchPatterns, fold)
			b.ReportAllocs()
			matched := 0
			for b.Loop() {
				for _, p := range paths {
					if filter.Match(ps, p) {
						matched++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(paths)), "ns/path")
		})
	}
}

func BenchmarkMatchChildren(b *testing.B) {
	paths := benchPaths(10000)
	ps := mustParse(b, benchPatterns, false)
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range paths {
			filter.MatchChildren(ps, p)
		}
	}
}
