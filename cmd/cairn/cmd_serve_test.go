package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/testservers"
)

// startServe runs `cairn serve` on a free loopback port and returns its
// base URL. The server is stopped with SIGTERM when the test ends.
func startServe(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cairnBin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=UTC",
		"RESTIC_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache")}, env...)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		if err != nil {
			t.Errorf("serve ended with %v:\n%s", err, stderr.String())
		}
		if s := stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "warning") {
			t.Errorf("serve wrote to stderr:\n%s", s)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve did not start: %v\n%s", err, stderr.String())
	}
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "serving the repository at ")
	if !ok {
		t.Fatalf("serve printed %q", line)
	}
	go io.Copy(io.Discard, stdout)
	return strings.TrimSuffix(u, "/")
}

// chromium loads url in headless Chromium and returns the DOM after load;
// it also saves a screenshot as name.png under the test artifacts
// directory.
func chromium(t *testing.T, url, name string) string {
	t.Helper()
	bin := testservers.Chromium(t)
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--window-size=1400,1000"}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(flags, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v", url, err)
	}
	art := filepath.Join(os.TempDir(), "cairn-test-artifacts", "serve")
	must(t, os.MkdirAll(art, 0o755))
	shot := filepath.Join(art, name+".png")
	cmd := exec.CommandContext(ctx, bin, append(flags, "--screenshot="+shot, url)...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium --screenshot %s: %v", url, err)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 2000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
	return string(out)
}

func get(t *testing.T, url string, header ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	must(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, b, resp.Header
}

// TestServeInBrowser drives the web page in headless Chromium on a
// repository with snapshots of restic and cairn: the snapshot list, the
// plots, a tree listing and a diff are rendered; downloads match the
// source byte for byte; bad IDs and paths get 404s and the server goes on.
func TestServeInBrowser(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	rng := rand.New(rand.NewPCG(16, 2))
	big := make([]byte, 3<<20+777)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	writeFile(t, src, "docs/readme.txt", "read me\n")
	writeFile(t, src, "data/big.bin", string(big))
	writeFile(t, src, "name with spaces & <html>.txt", "odd")
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "serve-pw")
	resticInit(t, env)
	restic(t, env, "backup", "-q", "--host", "old-host", src)
	cairn(t, env, "backup", "-q", "--host", "web1", "--tag", "daily", src)
	writeFile(t, src, "docs/added.txt", "added later")
	cairn(t, env, "backup", "-q", "--host", "web1", src)
	ids := snapshotIDs(t, env)
	base := startServe(t, env)

	dom := chromium(t, base+"/", "snapshots")
	for _, want := range []string{`id="snapshots"`, `id="plot-size"`, `id="plot-files"`, "<polyline", "old-host", "web1", "daily"} {
		if !strings.Contains(dom, want) {
			t.Errorf("snapshot page: no %s in the DOM", want)
		}
	}
	rows := regexp.MustCompile(`<tr class="snapshot" data-id="([0-9a-f]{64})"`).FindAllStringSubmatch(dom, -1)
	if len(rows) != len(ids) {
		t.Errorf("snapshot page lists %d snapshots, want %d", len(rows), len(ids))
	}
	for i, r := range rows {
		if i < len(ids) && r[1] != ids[i] {
			t.Errorf("row %d: %s, want %s", i, r[1], ids[i])
		}
	}
	if dom := chromium(t, base+"/?host=old-host", "filtered"); strings.Count(dom, `<tr class="snapshot"`) != 1 {
		t.Errorf("host filter: %d rows", strings.Count(dom, `<tr class="snapshot"`))
	}

	last := ids[len(ids)-1]
	tree := chromium(t, base+"/snapshot/"+last+"/tree"+src+"/", "tree")
	for _, want := range []string{`id="tree"`, "docs/", "data/", "name with spaces &amp; &lt;html&gt;.txt", "3.001 MiB"} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree page: no %q in the DOM", want)
		}
	}
	d := chromium(t, base+"/diff?a="+ids[1]+"&b="+last, "diff")
	if !strings.Contains(d, src+"/docs/added.txt") || !strings.Contains(d, `id="diff-stats"`) {
		t.Errorf("diff page does not show the added file")
	}

	// Downloads, byte for byte.
	for _, sid := range []string{ids[0], last} {
		code, body, h := get(t, base+"/snapshot/"+sid+"/file"+src+"/data/big.bin")
		if code != 200 || !bytes.Equal(body, big) {
			t.Fatalf("download of %s: %d, %d bytes", sid[:8], code, len(body))
		}
		if !strings.Contains(h.Get("Content-Disposition"), "big.bin") {
			t.Errorf("Content-Disposition %q", h.Get("Content-Disposition"))
		}
	}
	code, body, _ := get(t, base+"/snapshot/"+last[:8]+"/file"+src+"/data/big.bin", "Range", "bytes=1048570-1048600")
	if code != http.StatusPartialContent || !bytes.Equal(body, big[1048570:1048601]) {
		t.Errorf("range: %d, %d bytes", code, len(body))
	}
	code, body, _ = get(t, base+"/snapshot/"+last+"/archive"+src+"?format=tar")
	if code != 200 {
		t.Fatalf("tar: %d", code)
	}
	got := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(body))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		b, _ := io.ReadAll(tr)
		got[h.Name] = b
	}
	rel := strings.TrimPrefix(src, "/")
	if !bytes.Equal(got[rel+"/data/big.bin"], big) || string(got[rel+"/docs/added.txt"]) != "added later" {
		t.Errorf("tar holds %d entries, contents differ", len(got))
	}
	code, body, _ = get(t, base+"/snapshot/"+last+"/archive"+src+"/docs?format=zip")
	if code != 200 {
		t.Fatalf("zip: %d", code)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	must(t, err)
	found := false
	for _, f := range zr.File {
		if f.Name == rel+"/docs/readme.txt" {
			rc, err := f.Open()
			must(t, err)
			b, _ := io.ReadAll(rc)
			found = string(b) == "read me\n"
		}
	}
	if !found {
		t.Errorf("zip lacks docs/readme.txt")
	}

	// Bad IDs and paths: 404, never a crash.
	for _, u := range []string{
		"/snapshot/zzzz/tree/",
		"/snapshot/00000000/tree/",
		"/snapshot/" + last + "/tree/no/such/dir/",
		"/snapshot/" + last + "/file" + src + "/docs",
		"/snapshot/" + last + "/file" + src + "/docs/readme.txt/below",
		"/snapshot/" + last + "/file/../../../../etc/passwd",
		"/snapshot/" + last + "/archive" + src + "/docs/readme.txt",
		"/diff?a=" + last + "&b=ffff",
		"/no/such/page",
	} {
		if code, _, _ := get(t, base+u); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", u, code)
		}
	}
	if code, _, _ := get(t, base+"/snapshot/"+last+"/archive"+src+"?format=rar"); code != http.StatusBadRequest {
		t.Errorf("bad archive format: %d, want 400", code)
	}
	if code, _, _ := get(t, base+"/"); code != 200 {
		t.Errorf("after the bad requests: %d", code)
	}
}

// TestServeAuth checks that serve refuses a non-loopback address without
// --auth, and that with --auth every request needs the credentials.
func TestServeAuth(t *testing.T) {
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "serve-pw")
	cairn(t, env, "init")
	res := run(t, env, cairnBin, "serve", "--listen", "0.0.0.0:0")
	if res.code != 1 || !strings.Contains(res.stderr, "--auth") || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
		t.Errorf("serve on 0.0.0.0 without --auth: %v", res)
	}
	pwFile := writeFile(t, t.TempDir(), "web-pw", "s3cret\n")
	base := startServe(t, env, "--auth", "admin:"+pwFile)
	if code, _, h := get(t, base+"/"); code != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no credentials: %d", code)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/", nil)
	req.SetBasicAuth("admin", "wrong")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/", nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("right password: %d", resp.StatusCode)
	}
}

// TestServeMetrics parses /metrics with the Prometheus text parser and
// checks its values against `snapshots --json` and `stats --json`.
func TestServeMetrics(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "a/one.txt", strings.Repeat("one ", 1000))
	writeFile(t, src, "b/two.txt", "two")
	env := repoEnv(filepath.Join(t.TempDir(), "repo"), "serve-pw")
	cache := filepath.Join(t.TempDir(), "cache")
	env = append(env, "RESTIC_CACHE_DIR="+cache)
	resticInit(t, env)
	restic(t, env, "backup", "-q", "--host", "h1", src)
	cairn(t, env, "backup", "-q", "--host", "h1", src+"/a")
	writeFile(t, src, "b/three.txt", "three")
	cairn(t, env, "backup", "-q", "--host", "h2", src)
	cairn(t, env, "check")
	base := startServe(t, env)

	code, body, h := get(t, base+"/metrics")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %q", code, h.Get("Content-Type"))
	}
	file := writeFile(t, t.TempDir(), "metrics.prom", string(body))
	m := parseMetrics(t, file)

	var snaps []struct {
		ID       string   `json:"id"`
		Hostname string   `json:"hostname"`
		Paths    []string `json:"paths"`
	}
	mustJSON(t, cairn(t, env, "snapshots", "--json"), &snaps)
	perHost := map[string]float64{}
	latest := map[string]string{} // host,paths -> id (snapshots are oldest first)
	for _, s := range snaps {
		perHost[s.Hostname]++
		latest[`host=`+s.Hostname+`,paths=`+strings.Join(s.Paths, ",")] = s.ID
	}
	for host, n := range perHost {
		wantMetric(t, m, "cairn_snapshots{host="+host+"}", n)
	}
	for labels, sid := range latest {
		var st struct {
			TotalSize      float64 `json:"total_size"`
			TotalFileCount float64 `json:"total_file_count"`
		}
		mustJSON(t, cairn(t, env, "stats", "--json", sid), &st)
		wantMetric(t, m, "cairn_snapshot_latest_bytes{"+labels+"}", st.TotalSize)
		wantMetric(t, m, "cairn_snapshot_latest_files{"+labels+"}", st.TotalFileCount)
	}
	var raw struct {
		TotalSize      float64 `json:"total_size"`
		TotalBlobCount float64 `json:"total_blob_count"`
	}
	mustJSON(t, cairn(t, env, "stats", "--json", "--mode", "raw-data"), &raw)
	wantMetric(t, m, "cairn_raw_data_bytes", raw.TotalSize)
	wantMetric(t, m, "cairn_raw_data_blobs", raw.TotalBlobCount)
	wantMetric(t, m, "cairn_check_success", 1)
	wantMetric(t, m, "cairn_check_errors", 0)
	packs := strings.Fields(cairn(t, env, "list", "packs"))
	wantMetric(t, m, "cairn_packs", float64(len(packs)))

	// A new snapshot changes the figures at the next scrape.
	cairn(t, env, "backup", "-q", "--host", "h2", src)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body, _ := get(t, base+"/metrics")
		m := parseMetrics(t, writeFile(t, t.TempDir(), "metrics.prom", string(body)))
		if m["cairn_snapshots{host=h2}"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new snapshot not counted: %v", m["cairn_snapshots{host=h2}"])
		}
		time.Sleep(300 * time.Millisecond)
	}
}
