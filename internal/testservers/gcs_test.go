package testservers

import (
	"net/http"
	"strings"
	"testing"
)

// TestFakeGCS makes a bucket through the JSON API and lists the buckets,
// then does it again after a restart: the filesystem backend keeps it.
func TestFakeGCS(t *testing.T) {
	g := FakeGCS(t)
	resp, err := http.Post(g.Endpoint+"/storage/v1/b?project=test", "application/json", strings.NewReader(`{"name":"bkt"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create bucket answered %s, want 200\n%s", resp.Status, g.Output())
	}
	for _, restart := range []bool{false, true} {
		if restart {
			g.Stop()
			g.Start()
		}
		resp, err := http.Get(g.Endpoint + "/storage/v1/b/bkt")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("get bucket (restarted: %v) answered %s, want 200", restart, resp.Status)
		}
	}
}
