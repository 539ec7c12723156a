package admin

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Real-time admin threads (-admin-realtime-priority).
//
// Under a full MQTT load on a busy machine an admin request waits for a
// core: the goroutine that reads it is woken by Go's poller on some thread,
// and every thread on the way competes with the event loops and with every
// other process for the CPU. With a priority P above 0 each admin
// connection (up to RealtimeConns at a time, plain TCP) is served instead
// on an OS thread of its own, scheduled SCHED_FIFO at priority P, reading
// and writing its socket with blocking system calls outside the poller: a
// request's bytes wake that thread straight from the kernel, ahead of any
// normally scheduled thread. The process then needs a Go processor free
// for each such thread when it wakes (cmd/glassmq adds RealtimeConns to
// GOMAXPROCS). Setting a real-time policy needs CAP_SYS_NICE (or a
// RLIMIT_RTPRIO allowance); without it, or on TLS or beyond RealtimeConns,
// connections are served as usual and one warning says why. Linux only.
//
// A real-time thread runs until it blocks: the handlers are short (µs),
// but a long one, such as a large client list page, holds its core for
// its whole length ahead of the event loops.

// RealtimeConns is how many admin connections are served on real-time
// threads at most; more are served as usual.
const RealtimeConns = 16

// registerRealtimeFlag registers -admin-realtime-priority.
func registerRealtimeFlag(fs *flag.FlagSet, c *Config) {
	fs.IntVar(&c.RealtimePriority, "admin-realtime-priority", c.RealtimePriority,
		"SCHED_FIFO priority (1..99) of the threads serving admin connections, each on a thread of its own with blocking I/O, so admin answers do not wait behind the event loops or other processes; needs CAP_SYS_NICE, else served as usual with a warning; 0 (default) off; Linux")
}

// checkRealtime reports a priority outside 0..99.
func checkRealtime(p int) error {
	if p < 0 || p > 99 {
		return fmt.Errorf("admin: -admin-realtime-priority %d: must be 0 (off) or a SCHED_FIFO priority from 1 to 99", p)
	}
	return nil
}

// realtime is the accept loop and the connections of a server in
// real-time mode.
type realtime struct {
	prio   int
	ln     net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{} // every accepted connection, real-time or not
	closed bool
	wg     sync.WaitGroup
	active atomic.Int32 // connections on real-time threads now
	failed atomic.Bool  // the policy could not be set: serve as usual from now on
}

// serveRealtime accepts on ln and serves each connection on a real-time
// thread when it can (see the comment above), until Shutdown.
func (s *Server) serveRealtime(ln net.Listener) error {
	rt := &realtime{prio: s.cfg.RealtimePriority, ln: ln, conns: map[net.Conn]struct{}{}}
	if !s.rt.CompareAndSwap(nil, rt) {
		if s.rt.Load() == stoppedRealtime { // Shutdown came first
			ln.Close()
			return nil
		}
		return errors.New("admin: Serve called twice")
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			rt.mu.Lock()
			closed := rt.closed
			rt.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		if !rt.track(c) {
			c.Close()
			return nil
		}
		if tc, ok := c.(*net.TCPConn); ok && !rt.failed.Load() {
			if rt.active.Add(1) <= RealtimeConns {
				go s.serveConnRealtime(rt, tc)
				continue
			}
			rt.active.Add(-1)
		}
		go func() {
			defer rt.done(c)
			_ = s.httpd.ServeConn(c)
		}()
	}
}

// track records c; false once the server is shutting down.
func (rt *realtime) track(c net.Conn) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return false
	}
	rt.conns[c] = struct{}{}
	rt.wg.Add(1)
	return true
}

func (rt *realtime) done(c net.Conn) {
	rt.mu.Lock()
	delete(rt.conns, c)
	rt.mu.Unlock()
	rt.wg.Done()
}

// serveConnRealtime serves tc on the calling goroutine's thread, made
// real-time, with blocking I/O. The goroutine keeps the thread locked to
// the end, so the thread exits with it and its policy goes too.
func (s *Server) serveConnRealtime(rt *realtime, tc *net.TCPConn) {
	defer rt.active.Add(-1)
	runtime.LockOSThread()
	if err := setRealtime(rt.prio); err != nil {
		if !rt.failed.Swap(true) {
			slog.Warn("admin: -admin-realtime-priority: serving admin connections as usual", "err", err)
		}
		runtime.UnlockOSThread()
		defer rt.done(tc)
		_ = s.httpd.ServeConn(tc)
		return
	}
	bc, err := newBlockingConn(tc)
	if err != nil { // the thread stays real-time and ends with this goroutine
		defer rt.done(tc)
		_ = s.httpd.ServeConn(tc)
		return
	}
	// newBlockingConn closed tc: bc takes its place among the connections
	// that shutdown closes.
	rt.mu.Lock()
	delete(rt.conns, tc)
	rt.conns[bc] = struct{}{}
	rt.mu.Unlock()
	defer rt.done(bc)
	_ = s.httpd.ServeConn(bc)
	bc.closeFD()
}

// stoppedRealtime is what Shutdown leaves in Server.rt when Serve has not
// started yet, so that a late Serve returns at once.
var stoppedRealtime = &realtime{closed: true}

// shutdown closes the listener and every connection, and waits for their
// goroutines to end.
func (rt *realtime) shutdown() error {
	if rt == stoppedRealtime {
		return nil
	}
	rt.mu.Lock()
	rt.closed = true
	err := rt.ln.Close()
	for c := range rt.conns {
		c.Close()
	}
	rt.mu.Unlock()
	rt.wg.Wait()
	return err
}
