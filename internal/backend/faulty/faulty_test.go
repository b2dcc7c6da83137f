package faulty_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-backup/cairn/internal/backend"
	"github.com/cairn-backup/cairn/internal/backend/faulty"
	"github.com/cairn-backup/cairn/internal/backend/mem"
)

func TestBackendFaults(t *testing.T) {
	f := faulty.New(mem.New())
	h := backend.Handle{Type: backend.PackFile, Name: "aa"}
	f.LoseSaves(1)
	if err := f.Save(t.Context(), h, backend.NewByteReader([]byte("abcd"))); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("Save with a lost answer = %v, want ErrInjected", err)
	}
	if _, err := f.Stat(t.Context(), h); err != nil {
		t.Fatalf("the lost save must have stored the file: %v", err)
	}
	f.Fail(faulty.OpStat, 1)
	if _, err := f.Stat(t.Context(), h); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("armed Stat = %v, want ErrInjected", err)
	}
	f.ShortReads(1)
	var got []byte
	err := f.Load(t.Context(), h, 0, 0, func(rd io.Reader) error {
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	if !errors.Is(err, faulty.ErrInjected) || string(got) != "ab" {
		t.Fatalf("short read gave %q, %v; want \"ab\" and ErrInjected", got, err)
	}
	if _, err := f.Stat(t.Context(), h); err != nil {
		t.Fatalf("faults must be used up: %v", err)
	}
	if n := f.Injected(); n != 3 {
		t.Errorf("Injected() = %d, want 3", n)
	}
}

func TestProxyDrops(t *testing.T) {
	p, err := faulty.NewProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echo through proxy = %q, %v", line, err)
	}
	p.DropAll()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after DropAll succeeded, want an error")
	}
	p.Refuse(true)
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Fatal("a refused connection stayed open")
		}
		_ = c2.Close()
	}
	if p.Drops() != 2 {
		t.Errorf("Drops() = %d, want 2", p.Drops())
	}
}

func TestHTTPProxyFails(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	p, err := faulty.NewHTTPProxy(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.FailNext(2, http.StatusInternalServerError)
	var codes []int
	for range 3 {
		resp, err := http.Get(p.URL() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 500 || codes[1] != 500 || codes[2] != 200 {
		t.Fatalf("status codes = %v, want [500 500 200]", codes)
	}
	if req, failed := p.Counts(); req != 3 || failed != 2 {
		t.Fatalf("Counts() = %d, %d; want 3, 2", req, failed)
	}

	p.LoseNext(1, "/y")
	resp, err := http.Post(p.URL()+"/y", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || posts.Load() != 1 {
		t.Fatalf("lost answer: status %d after %d posts reached the server, want 502 after 1", resp.StatusCode, posts.Load())
	}
}

func TestBackendDelay(t *testing.T) {
	f := faulty.New(mem.New())
	f.Delay(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := f.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed Stat = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Errorf("delayed Stat returned after %v, want the delay until the deadline", d)
	}
	f.Delay(0)
	if _, err := f.Stat(t.Context(), backend.Handle{Type: backend.ConfigFile}); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("Stat without delay = %v, want ErrNotExist", err)
	}
}

func TestProxyLatency(t *testing.T) {
	p, err := faulty.NewProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetLatency(50 * time.Millisecond)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	for range 3 {
		start := time.Now()
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := rd.ReadString('\n'); err != nil || line != "ping\n" {
			t.Fatalf("echo = %q, %v", line, err)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("round trip took %v with 50ms each way, want at least 100ms", d)
		}
	}
}

// echoServer starts a TCP server on loopback that sends back what it gets,
// and returns its address.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestProxyStall: a stalled proxy keeps the connection open but forwards
// nothing until the stall ends; then the held bytes arrive.
func TestProxyStall(t *testing.T) {
	p, err := faulty.NewProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	p.Stall(true)
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if line, err := rd.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while stalled = %q, %v; want a timeout", line, err)
	}
	if p.Stalled() == 0 {
		t.Fatal("Stalled() = 0 while a piece was held")
	}
	p.Stall(false)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := rd.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo after the stall = %q, %v", line, err)
	}
	if p.Drops() != 0 {
		t.Errorf("Drops() = %d after a stall, want 0", p.Drops())
	}
}
