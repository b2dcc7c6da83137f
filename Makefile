# cairn: see README.md. Every target works on a fresh Debian machine with Go.
GO       ?= go
BIN      := bin/cairn
FUZZTIME ?= 10s

.PHONY: build demo test deps vet fuzz bench bench-scale golden clean stress

build:
	$(GO) build -o $(BIN) ./cmd/cairn

## demo: a local repository with a generated password file, the main job on it.
demo: build
	./scripts/demo.sh $(BIN)

## test: everything, including the interop tests against the real restic binary.
## internal/chunker runs without -race: its tests compare every chunk of ~200 MiB
## against restic's chunker, which the race detector makes 10x slower, and its
## only shared state is a sync.Map of tables.
NORACE := github.com/cairn-backup/cairn/internal/chunker
test: deps vet
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v -x -F '$(NORACE)')
	$(GO) test -count=1 -timeout 10m $(NORACE)
	$(MAKE) fuzz FUZZTIME=3s

deps:
	./scripts/install-test-deps.sh

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fuzz: run every fuzz target (every `func Fuzz` in a _test.go file, found by
## scripts/fuzz.sh: key file, config, pack header, index, tree, snapshot, lock file,
## cache entry names and bytes, leftover cache directories, REST listing, SSH config,
## ...) for FUZZTIME each; the seed corpora (f.Add and testdata/fuzz) run in `go test` too.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

## stress: cairn commands on one repository killed with SIGKILL at random moments,
## STRESS_ROUNDS times (make test runs 5), seed printed; STRESS_SEED=... repeats a run.
## After each kill: the rerun succeeds, cairn and restic check (every tenth with
## --read-data), every snapshot still restores to what it held.
## Then scale: TestManyEmptyFiles backs up STRESS_MANY_FILES empty files (make test
## 100000) and TestFileLargerThanMemory a file of STRESS_BIG_FILE_MIB MiB (make test
## 2048; 32768 is more than a 23 GiB machine's RAM, mostly holes so the disk needs
## 2 GiB), each with the backup's peak RSS checked against a bound, the snapshot,
## restore or dump and restic check; times and RSS are logged.
STRESS_ROUNDS ?= 200
STRESS_MANY_FILES ?= 1000000
STRESS_BIG_FILE_MIB ?= 32768
stress:
	cd cmd/cairn && CAIRN_STRESS_ROUNDS=$(STRESS_ROUNDS) CAIRN_STRESS_SEED=$(STRESS_SEED) $(GO) test -count=1 -timeout 0 -run '^TestStressKills$$' -v . | grep -E 'stress:|FAIL|ok|---'
	cd cmd/cairn && CAIRN_MANY_FILES=$(STRESS_MANY_FILES) CAIRN_BIG_FILE_MIB=$(STRESS_BIG_FILE_MIB) $(GO) test -count=1 -timeout 0 -parallel 1 -run '^(TestManyEmptyFiles|TestFileLargerThanMemory)$$' -v . | grep -E 'scale_test|FAIL|ok|---'

## golden: re-record restic's --json output for the side-by-side tests
## (cmd/cairn/testdata/golden) from RESTIC_BIN, default ../shared/bin/restic-0.19.1.
RESTIC_GOLDEN ?= $(abspath ../shared/bin/restic-0.19.1)
golden:
	cd cmd/cairn && RESTIC_BIN=$(RESTIC_GOLDEN) $(GO) test -count=1 -run '^TestGolden' . -update-golden

## bench: cairn against restic (RESTIC_BIN, default ../shared/bin/restic-0.19.1 when present)
## side by side on a generated data set (BENCH_SIZE, default 2G), BENCH_RUNS times with
## medians and each step's other machine load (contaminated steps marked), then backups
## to the remote backends on loopback (BENCH_REMOTE_MIB, default 256).
bench: build
	./scripts/bench.sh
	./scripts/bench-remote.sh

## bench-scale: peak RSS and wall time of cairn and restic (RESTIC_BIN, default
## ../shared/bin/restic-0.19.1 when present) on repositories with BENCH_SCALE_BLOBS
## synthetic blobs (default "1000000 5000000", made by tools/scalegen): backup, check,
## prune --dry-run, stats, restore, copy; table in bench-scale-results.txt.
bench-scale: build
	./scripts/bench-scale.sh

## bench-tree: first and unchanged backup of many small files, cairn against restic
## (BENCH_TREE_FILES, default 1000000, in BENCH_TREE_DIRS, default 1000).
.PHONY: bench-tree
bench-tree: build
	./scripts/bench-tree.sh

clean:
	rm -rf bin demo
