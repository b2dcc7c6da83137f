package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/cairn-backup/cairn"

// rule forbids packages matching from (a prefix; "*" ends a subtree) from
// importing packages matching any of deny, unless the importer is in allow.
type rule struct {
	name  string
	from  []string
	deny  []string
	allow []string
}

var rules = []rule{
	{
		name:  "leaf value packages import nothing of ours but id",
		from:  []string{"internal/id", "internal/blob"},
		deny:  []string{"internal/*", "cmd/*"},
		allow: []string{"internal/id"},
	},
	{
		name: "backends know nothing of the repository format",
		from: []string{"internal/backend/*"},
		deny: []string{"internal/repository", "internal/index", "internal/pack", "internal/crypto", "internal/blob"},
	},
	{
		name:  "crypto, pack and index are used through repository only",
		from:  []string{"internal/*", "cmd/*"},
		deny:  []string{"internal/crypto", "internal/pack", "internal/index"},
		allow: []string{"internal/repository", "internal/pack", "internal/index", "internal/crypto"},
	},
	{
		name: "pack seals blobs with crypto and knows nothing of indexes or repositories",
		from: []string{"internal/pack"},
		deny: []string{"internal/index", "internal/repository"},
	},
	{
		name: "index and crypto stand alone",
		from: []string{"internal/index", "internal/crypto"},
		deny: []string{"internal/pack", "internal/repository", "internal/crypto", "internal/index"},
	},
	{
		name:  "mount and serve read the repository through the browse view only",
		from:  []string{"internal/mount", "internal/serve", "internal/browse"},
		deny:  []string{"internal/repository", "internal/backend/*", "internal/archiver", "internal/prune", "internal/lock"},
		allow: []string{"internal/backend"},
	},
	{
		name: "library packages never import the command",
		from: []string{"internal/*"},
		deny: []string{"cmd/*"},
	},
	{
		name:  "production code does not import testing helpers",
		from:  []string{"internal/*", "cmd/*"},
		deny:  []string{"internal/backend/backendtest", "internal/backend/faulty", "internal/testservers", "testing"},
		allow: []string{"internal/backend/backendtest", "internal/backend/faulty", "internal/testservers/*"},
	},
}

func match(pkg string, patterns []string) bool {
	for _, p := range patterns {
		full := p
		if p != "testing" {
			full = module + "/" + p
		}
		if sub, ok := strings.CutSuffix(full, "/*"); ok {
			if pkg == sub || strings.HasPrefix(pkg, sub+"/") {
				return true
			}
		} else if pkg == full {
			return true
		}
	}
	return false
}

// TestImportDirection lists the production imports of every package (test
// files excluded) and checks them against rules.
func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, r := range rules {
			if !match(pkg, r.from) || match(pkg, r.allow) {
				continue
			}
			for _, imp := range imports {
				checked++
				if match(imp, r.deny) && !match(imp, r.allow) {
					t.Errorf("%s imports %s: %s", pkg, imp, r.name)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no imports checked; is the module path right?")
	}
}

// TestRulesBite makes sure the matcher can fail: a made-up bad import is
// reported.
func TestRulesBite(t *testing.T) {
	if !match(module+"/internal/backend/local", rules[1].from) || !match(module+"/internal/repository", rules[1].deny) {
		t.Fatal("rule matcher does not match a backend importing repository")
	}
	if r := rules[2]; !match(module+"/internal/checker", r.from) || match(module+"/internal/checker", r.allow) || !match(module+"/internal/pack", r.deny) {
		t.Fatal("rule matcher lets the checker import pack")
	}
	if match(module+"/internal/repositoryx", []string{"internal/repository"}) {
		t.Fatal("exact rule matched a longer name")
	}
}
