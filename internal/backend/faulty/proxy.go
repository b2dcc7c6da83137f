package faulty

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Proxy forwards TCP connections from a loopback port to a target address
// and can drop them, as a flaky network or a restarting server does.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // both ends of every open connection
	refuse bool
	drops  int
	delay  time.Duration // one-way latency added to every byte
	// resume is closed when forwarding may go on; while stalled it is an
	// open channel that Stall(false) closes.
	resume    chan struct{}
	stalled   int   // connections' pieces held back by a stall
	forwarded int64 // bytes passed on, both directions
	wg        sync.WaitGroup
}

// NewProxy listens on 127.0.0.1 and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{}), resume: make(chan struct{})}
	close(p.resume)
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the proxy's "host:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Drops reports how many connections DropAll and Refuse have cut.
func (p *Proxy) Drops() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.drops
}

// DropAll cuts every open connection.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.drops += len(p.conns) / 2
	clear(p.conns)
}

// SetLatency delays every byte by d in each direction, as a long link
// does (the round trip grows by 2d), without limiting the bandwidth. It
// applies to connections made afterwards.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Refuse makes the proxy close new connections at once (on) or forward
// them again (off).
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = on
}

// Stall stops forwarding bytes in both directions (on) while keeping
// every connection open and accepting new ones, as a link that silently
// loses all traffic does; Stall(false) forwards the held bytes and
// carries on.
func (p *Proxy) Stall(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resume:
		if on {
			p.resume = make(chan struct{})
		}
	default:
		if !on {
			close(p.resume)
		}
	}
}

// Stalled reports how many pieces of traffic a stall has held back.
func (p *Proxy) Stalled() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

// Forwarded reports how many bytes the proxy has passed on without added
// latency, in both directions together.
func (p *Proxy) Forwarded() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded
}

// wait returns once forwarding is not stalled, or false if done closes
// first (the connection ended).
func (p *Proxy) wait(done <-chan struct{}) bool {
	p.mu.Lock()
	resume := p.resume
	select {
	case <-resume:
		p.mu.Unlock()
		return true
	default:
	}
	p.stalled++
	p.mu.Unlock()
	select {
	case <-resume:
		return true
	case <-done:
		return false
	}
}

// Close stops listening, cuts every connection and waits for the
// forwarding goroutines.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.Stall(false)
	p.DropAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		p.mu.Lock()
		refuse := p.refuse
		if refuse {
			p.drops++
		}
		p.mu.Unlock()
		if refuse {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		delay := p.delay
		p.mu.Unlock()
		done := make(chan struct{})
		var once sync.Once
		end := func() { once.Do(func() { close(done) }) }
		p.wg.Add(2)
		go p.pipe(c, up, delay, done, end)
		go p.pipe(up, c, delay, done, end)
	}
}

// pipe copies src to dst, each piece delay after it arrived and none
// while stalled; when either side ends, both are closed and end is called.
func (p *Proxy) pipe(dst, src net.Conn, delay time.Duration, done <-chan struct{}, end func()) {
	defer p.wg.Done()
	defer end()
	if delay <= 0 {
		p.copy(dst, src, done)
	} else {
		p.delayedCopy(dst, src, delay, done)
	}
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// copy copies src to dst, holding each piece while the proxy is stalled.
func (p *Proxy) copy(dst, src net.Conn, done <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(done) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			p.mu.Lock()
			p.forwarded += int64(n)
			p.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// delayedCopy copies src to dst, holding every piece read until delay has
// passed since it arrived (and while the proxy is stalled). Reading goes
// on meanwhile, so the delay does not cap the bandwidth.
func (p *Proxy) delayedCopy(dst, src net.Conn, delay time.Duration, done <-chan struct{}) {
	type piece struct {
		data []byte
		due  time.Time
	}
	pieces := make(chan piece, 1024)
	go func() {
		defer close(pieces)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				pieces <- piece{data: buf[:n], due: time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for pc := range pieces {
		time.Sleep(time.Until(pc.due))
		if !p.wait(done) {
			_ = src.Close()
			for range pieces {
			}
			return
		}
		if _, err := dst.Write(pc.data); err != nil {
			_ = src.Close() // ends the reader
			for range pieces {
			}
			return
		}
	}
}
